"""``python -m jupyter_hub_api.platform``: run the platform (see ``server.py``)."""

from .server import main

main()
