"""Prometheus metrics at ``GET /metrics``: the gateway's calls, latencies, cold starts, workers.

The hot path only adds to plain integers (:class:`GatewayCounts`, touched by the event loop's
thread alone, so no lock); a scrape turns them into metric families with a custom
``prometheus_client`` collector (:class:`HubCollector`), which also reads the engine's
queue and worker counts of every live version at that moment. So a call pays a few dictionary
updates, not a ``prometheus_client`` metric's lock and label lookup, and the text format,
content negotiation (Prometheus text or OpenMetrics) and the process metrics (CPU, memory,
open descriptors) are the library's.

Latency buckets are every eighth edge of the platform's own latency histogram
(``store/histogram.py``: ``0.01 ms * 2**k``), one per doubling from 0.08 ms to 41.9 s, so a
percentile read from Prometheus and one read from the dashboard fall on the same edges.

Who may read it: the metrics name every user's APIs, which an operator may see but a caller of
an API may not. So ``/metrics`` wants ``Authorization: Bearer <token>`` of an admin (the
platform's own user is one); an API key is not enough. Prometheus sends it with
``authorization: {credentials_file: <HUB_HOME>/platform/token}`` in its scrape config.
"""

from __future__ import annotations

import json
import math

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder

# Upper edges (seconds) of the latency buckets: 0.01 ms * 2**k for k in FIRST..LAST.
FIRST_K, LAST_K = 3, 22
EDGES = tuple(0.01e-3 * 2**k for k in range(FIRST_K, LAST_K + 1))
_NBUCKETS = len(EDGES) + 1  # and +Inf


def bucket_index(seconds: float) -> int:
    """The index of the first edge at or above ``seconds`` (len(EDGES): above the last)."""
    x = seconds / 0.01e-3
    if x <= 2**FIRST_K:
        return 0
    mantissa, exponent = math.frexp(x)  # x = mantissa * 2**exponent, 0.5 <= mantissa < 1
    k = exponent - 1 if mantissa == 0.5 else exponent  # ceil(log2(x))
    return min(k - FIRST_K, _NBUCKETS - 1)


class ApiCounts:
    """One API's counts: answers by status, the latency histogram of its calls, cold starts."""

    __slots__ = ("user", "api", "by_status", "buckets", "seconds", "cold_starts")

    def __init__(self, user: str, api: str) -> None:
        self.user = user
        self.api = api
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * _NBUCKETS
        self.seconds = 0.0
        self.cold_starts = 0

    def observe(self, seconds: float) -> None:
        """One call answered by the API's handler (or its worker), ``seconds`` end to end."""
        self.buckets[bucket_index(seconds)] += 1
        self.seconds += seconds


class GatewayCounts:
    """What the gateway counts as it answers; read by :class:`HubCollector`."""

    def __init__(self) -> None:
        self.apis: dict[tuple[str, str], ApiCounts] = {}
        # Answers that named no API of a known user (404 paths, missing or unknown keys...):
        # their path is the caller's text, so it never becomes a label.
        self.unrouted: dict[int, int] = {}
        self.inflight = 0

    def api(self, user: str, api: str) -> ApiCounts:
        counts = self.apis.get((user, api))
        if counts is None:
            counts = self.apis[(user, api)] = ApiCounts(user, api)
        return counts


class HubCollector:
    """Metric families made at scrape time from the gateway's counts and the engine's state."""

    def __init__(self, platform, counts: GatewayCounts) -> None:
        self.platform = platform
        self.counts = counts

    def describe(self):
        return []  # registered without a dry run of collect()

    def collect(self):
        counts = self.counts
        requests = CounterMetricFamily(
            "hub_gateway_requests",
            "Requests the gateway answered, by API and HTTP status (user and api empty: the "
            "request named no API of a known user).",
            labels=["user", "api", "status"],
        )
        for status, n in sorted(counts.unrouted.items()):
            requests.add_metric(["", "", str(status)], n)
        latency = HistogramMetricFamily(
            "hub_gateway_request_duration_seconds",
            "Calls that reached an API's handler (POST), from the gateway's receiving the request "
            "to its answer, the metering commit included.",
            labels=["user", "api"],
        )
        cold = CounterMetricFamily(
            "hub_cold_starts",
            "Requests that waited for a worker of the API to start and load.",
            labels=["user", "api"],
        )
        for (user, api), c in sorted(counts.apis.items()):
            for status, n in sorted(c.by_status.items()):
                requests.add_metric([user, api, str(status)], n)
            cumulative, running = [], 0
            for edge, n in zip((*(_le(e) for e in EDGES), "+Inf"), c.buckets, strict=True):
                running += n
                cumulative.append((edge, running))
            latency.add_metric([user, api], cumulative, c.seconds)
            cold.add_metric([user, api], c.cold_starts)
        yield requests
        yield latency
        yield cold
        yield GaugeMetricFamily(
            "hub_gateway_inflight", "Requests the gateway is handling now.", value=counts.inflight
        )
        db = self.platform.db
        if db is not None:
            yield CounterMetricFamily(
                "hub_db_write_transactions",
                "Transactions the database writer committed (a batch of calls' metering is one).",
                value=getattr(db, "commits", 0),
            )
        yield from self._engine()

    def _engine(self):
        labels = ["user", "api", "version"]
        workers = GaugeMetricFamily(
            "hub_workers", "Worker processes of each live API version (starting, idle, busy).",
            labels=labels,
        )  # fmt: skip
        busy = GaugeMetricFamily(
            "hub_workers_busy", "Workers of each live API version running a call now.",
            labels=labels,
        )  # fmt: skip
        queued = GaugeMetricFamily(
            "hub_queue_length", "Calls of each live API version waiting for a free worker.",
            labels=labels,
        )  # fmt: skip
        engine = self.platform.engine
        for route in self.platform.routes.all():
            live = route.live
            if live is None or engine is None:
                continue
            try:
                status = engine.status(live.engine_id)
            except Exception:  # noqa: BLE001 - a version switching away: left out of this scrape
                continue
            values = [route.user, route.name, str(live.seq)]
            workers.add_metric(values, status.get("workers", 0))
            busy.add_metric(values, status.get("busy", 0))
            queued.add_metric(values, status.get("queued", 0))
        yield workers
        yield busy
        yield queued


def _le(edge: float) -> str:
    return f"{edge:.8g}"


def make_registry(platform, counts: GatewayCounts) -> CollectorRegistry:
    """A registry of the platform's own (not the process-global default one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(platform, counts))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def metrics_app(platform, registry: CollectorRegistry):
    """The ASGI app of ``/metrics``: an admin's bearer token, then the exposition."""

    async def app(scope, receive, send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer(
                send, 405,
                _error("method_not_allowed", f"{method} is not supported on /metrics; use GET."),
                [(b"allow", b"GET, HEAD")],
            )  # fmt: skip
            return
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await _answer(
                send, 401,
                _error("missing_token", "The metrics need an admin's token: send Authorization: "
                       "Bearer <token> (the platform's token file, <HUB_HOME>/platform/token)."),
                [(b"www-authenticate", b"Bearer")],
            )  # fmt: skip
            return
        user = platform.user_for_token(token)
        if user is None:
            await _answer(
                send, 401, _error("invalid_token", "The platform does not accept this token.")
            )
            return
        if not (getattr(user, "is_admin", False) or user.name == platform.local_user):
            await _answer(
                send, 403,
                _error("forbidden", "Only an admin of the platform may read its metrics; use an "
                       "admin's token."),
            )  # fmt: skip
            return
        encoder, content_type = choose_encoder(headers.get(b"accept", b"").decode("latin-1"))
        body = encoder(registry)
        await _answer(send, 200, body, content_type=content_type.encode())

    return app


def _error(type_: str, message: str) -> bytes:
    return json.dumps({"error": {"type": type_, "message": message}}).encode()


async def _answer(send, status: int, body: bytes, extra=(), content_type=b"application/json"):
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
