"""The async_invocations table (migration step 4, store/async_calls.py) on SQLite and
PostgreSQL: a call's life (queued, running, done with its envelope), what a restart reads,
callbacks still due, retention."""

from __future__ import annotations

import asyncio

from jupyter_hub_api.platform.db import Database
from jupyter_hub_api.platform.store.async_calls import AsyncCall, AsyncCalls


def _call(call_id: str, created: float, callback: str | None = None) -> AsyncCall:
    return AsyncCall(
        id=call_id, user_id=1, api_id=7, api_name="slow", key_id="k1", month="2026-12",
        state="queued", input=b'{"x": 1}', callback_url=callback,
        callback_ip="203.0.113.5" if callback else None, version_id=None, created_at=created,
        started_at=None, finished_at=None, http_status=None, envelope=None,
        callback_state=None, callback_attempts=0,
    )  # fmt: skip


def test_an_async_call_round_trips_and_is_pruned_after_its_retention(database_url):
    db = Database(database_url)
    try:
        asyncio.run(_round_trip(AsyncCalls(db)))
    finally:
        db.close()


async def _round_trip(repo: AsyncCalls) -> None:
    await repo.add(_call("a1", 100.0))
    await repo.add(_call("a2", 101.0, callback="https://example.org/hook"))
    await repo.add(_call("a3", 102.0))
    assert [c.id for c in repo.unfinished()] == ["a1", "a2", "a3"]
    got = repo.get("a1")
    assert (got.state, got.input, got.envelope) == ("queued", b'{"x": 1}', None)
    assert repo.get("nope") is None
    assert repo.metered("a1") is None  # no invocations row yet: nothing metered

    await repo.started("a1", 110.0, 3)
    running = repo.get("a1")
    assert (running.state, running.started_at, running.version_id) == ("running", 110.0, 3)

    envelope = b'{"statusCode":200,"body":{"output":1,"invocation_id":"a2"}}'
    await repo.finished("a2", "succeeded", 120.0, 200, envelope, callback=True)
    done = repo.get("a2")
    assert (done.state, done.http_status, done.envelope, done.input) == (
        "succeeded", 200, envelope, b"",
    )  # fmt: skip
    assert [c.id for c in repo.undelivered()] == ["a2"]
    await repo.callback_done("a2", "delivered", 2)
    assert repo.undelivered() == [] and repo.get("a2").callback_attempts == 2
    assert [c.id for c in repo.unfinished()] == ["a1", "a3"]
    assert [c.id for c in repo.of_api(7)] == ["a3", "a2", "a1"]

    await repo.finished("a3", "failed", 200.0, 500, b"{}", callback=False)
    assert await repo.prune(150.0) == 1  # a2 finished at 120: gone; a3 (200) and a1 stay
    assert repo.get("a2") is None and repo.get("a3") is not None and repo.get("a1") is not None
