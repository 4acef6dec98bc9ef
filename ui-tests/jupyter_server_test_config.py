"""Configuration of the real JupyterLab server that the browser tests drive.

Galata's helper sets a fixed port (8888), no token, and a temporary root directory; the test
command points HOME, the JUPYTER_* folders, TMPDIR and HUB_HOME at a folder of the test run.
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)

c.ServerApp.allow_root = True  # CI runs as root
c.FileContentsManager.delete_to_trash = False
c.LabApp.expose_app_in_browser = True
