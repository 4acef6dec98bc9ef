"""Metering: the durable record of every invocation, and the counters kept with it.

The gateway writes each answered call with :meth:`store.Invocations.add`, which bumps the
counters in the same transaction (``store/usage.py``): per user, API name and month (what the
quota reads, see ``quotas.py`` for what counts), per day, and a latency histogram per API and
month. So the counters and the history never disagree, a report costs a few rows per API
(:meth:`Platform.api_states`), and the history can be pruned without touching the counts.

The functions below answer in the dict shapes of the control plane's first release, over the
repositories; :meth:`Platform.api_states` and :meth:`Platform.invocations` are the typed forms.
"""

from __future__ import annotations

from .db import Database
from .models import InvocationRow
from .store.invocations import Invocations
from .store.usage import Usage

__all__ = ["InvocationRow", "latency_summary", "list_invocations", "usage_by_api"]


def usage_by_api(db: Database, user_id: int, month: str) -> dict[str, dict]:
    """``{api_name: {"calls", "errors", "failures"}}`` of a user in a month."""
    return {name: c.model_dump() for name, c in Usage(db).by_api(user_id, month).items()}


def latency_summary(db: Database, api_id: int, month: str) -> dict:
    """p50/p95/p99 latency (ms) of an API's counted calls in a month."""
    return Usage(db).latency([api_id], month)[api_id].model_dump()


def list_invocations(
    db: Database, api_id: int, limit: int = 50, before: float | None = None
) -> list[dict]:
    """The newest invocations of an API (before ``before`` when paging), newest first."""
    return [i.model_dump() for i in Invocations(db).page(api_id, limit, before)]
