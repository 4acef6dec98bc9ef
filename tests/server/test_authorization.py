"""The server's authorizer decides what a user may do with /hub-api/ (e.g. JupyterHub scopes)."""

from __future__ import annotations

import pytest
import tornado.httpclient
from jupyter_server.auth.authorizer import Authorizer

from .conftest import fetch_json, hub_init, post_json


class ReadOnlyHubAPI(Authorizer):
    """Lets everyone read Hub API resources and nothing more."""

    def is_authorized(self, handler, user, action, resource):
        return resource != "hub-api" or action == "read"


@pytest.fixture
def jp_server_config(jp_server_config):
    return {
        **jp_server_config,
        "ServerApp": {**jp_server_config["ServerApp"], "authorizer_class": ReadOnlyHubAPI},
    }


async def test_a_read_only_user_can_list_but_not_start_or_follow_jobs(
    jp_fetch, jp_ws_fetch, jp_root_dir
):
    hub_init(jp_root_dir, "iris")
    status, listing = await fetch_json(jp_fetch, "hub-api", "jobs")
    assert status == 200 and listing == {"jobs": []}
    status, error = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "iris"}
    )
    assert (
        status == 403
        and error["reason"] == "forbidden"
        and "not allowed to write" in error["message"]
    )
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_ws_fetch("hub-api", "jobs", "watch")
    assert info.value.code == 403


async def test_a_read_only_user_cannot_delete_an_api(jp_fetch):
    # panel (issue 11.4): refused by the extension before the platform is asked.
    status, error = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "iris", method="DELETE"
    )
    assert status == 403 and error["reason"] == "forbidden", error
