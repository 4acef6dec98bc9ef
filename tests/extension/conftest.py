import pytest


@pytest.fixture
def jp_server_config(jp_server_config):
    """Enable the extension in the test server, as the config file of the wheel does."""
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hub_api": True}}}
