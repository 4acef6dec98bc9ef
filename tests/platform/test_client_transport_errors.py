"""A platform that does not answer is one sentence, the same from the sync and async clients."""

import asyncio
import socket

import pytest

from jupyter_hub_api.client.api import AsyncPlatformClient, PlatformClient, PlatformUnreachable
from jupyter_hub_api.errors import WorkError


@pytest.fixture
def silent_server():
    """A loopback socket that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def test_sync_client_says_the_platform_did_not_answer_in_time(silent_server):
    client = PlatformClient(silent_server, "token", timeout=0.3)
    with pytest.raises(WorkError) as info:
        client.request("GET", "/api/v1/me")
    assert info.value.type == "platform_timeout"
    assert "did not answer in time" in str(info.value)


def call_async(url: str, timeout: float) -> None:
    async def call():
        client = AsyncPlatformClient(url, "token", timeout=timeout)
        try:
            await client.request("GET", "/api/v1/me")
        finally:
            await client.aclose()

    asyncio.run(call())


def test_async_client_says_the_platform_did_not_answer_in_time(silent_server):
    with pytest.raises(WorkError) as info:
        call_async(silent_server, 0.3)
    assert info.value.type == "platform_timeout"
    assert "did not answer in time" in str(info.value)


def test_async_client_names_the_way_to_start_an_unreachable_platform(closed_port):
    with pytest.raises(WorkError) as info:
        call_async(closed_port, 2)
    assert info.value.type == "platform_unreachable"
    assert "hub platform start" in str(info.value)
    # No connection was made, so nothing was sent: the server extension may retry.
    assert isinstance(info.value, PlatformUnreachable)


def test_a_platform_that_never_answers_is_not_called_unreachable(silent_server):
    # A timeout may come after the request was sent: never retried as "unreachable".
    with pytest.raises(WorkError) as info:
        call_async(silent_server, 0.3)
    assert not isinstance(info.value, PlatformUnreachable)
