"""Configuration of the real JupyterLab server that the browser tests drive.

Galata's helper sets no token and a temporary root directory; the port is the free one that
playwright.config.js asked the OS for (``HUB_UI_JUPYTER_PORT``; Galata's 8888 when started by
hand), on 127.0.0.1. The test command points HOME, the JUPYTER_* folders, TMPDIR and HUB_HOME
at a folder of the test run.
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)

c.ServerApp.port = int(os.environ.get("HUB_UI_JUPYTER_PORT", "8888"))
if "ip" not in c.ServerApp:  # Galata sets 0.0.0.0 in a container; keep that
    c.ServerApp.ip = "127.0.0.1"

c.ServerApp.allow_root = True  # CI runs as root
c.FileContentsManager.delete_to_trash = False
c.LabApp.expose_app_in_browser = True
