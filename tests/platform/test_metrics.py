"""GET /metrics: an operator's Prometheus scrapes the platform after real calls (metrics.py).

The scrape is parsed with prometheus_client's own parsers (the text format and OpenMetrics),
and its counts are checked against the calls this test made: answers by API and status, the
latency histogram of the calls the handler answered, cold starts, workers and queue.
"""

from __future__ import annotations

import requests
from platform_helpers import wait_until
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families


def scrape(platform, token=None, **headers) -> requests.Response:
    if token is not False:
        headers["Authorization"] = f"Bearer {token or platform.token}"
    return requests.get(f"{platform.url}/metrics", headers=headers, timeout=30)


def samples(text: str, parse=text_string_to_metric_families) -> dict:
    """``{(sample name, frozenset(labels)): value}`` of one scrape."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in parse(text)
        for s in family.samples
    }


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def post(endpoint, key, data):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["x-api-key"] = key
    return requests.post(endpoint, headers=headers, data=data, timeout=60)


def test_metrics_count_the_calls_by_api_and_status(platform, behaviour_api):
    endpoint, key = behaviour_api
    alice = {"user": platform.user, "api": "behave"}
    before = samples(scrape(platform).text)

    assert requests.get(endpoint, headers={"x-api-key": key}, timeout=60).status_code == 200
    for i in range(5):
        assert post(endpoint, key, f'{{"n": {i}}}').status_code == 200
    assert post(endpoint, key, '{"op": "raise", "msg": "x"}').status_code == 500
    assert post(endpoint, key, "not json").status_code == 400
    assert post(endpoint, None, "1").status_code == 401
    assert post(f"{platform.url}/nobody/nothing", key, "1").status_code == 403

    resp = scrape(platform)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = samples(resp.text)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    requests_total = "hub_gateway_requests_total"
    assert delta(requests_total, **alice, status="200") == 6  # the GET and five POSTs
    assert delta(requests_total, **alice, status="500") == 1
    assert delta(requests_total, **alice, status="400") == 1
    # Refused before an API of a known user was named: counted without the caller's path.
    assert delta(requests_total, user="", api="", status="401") == 1
    assert delta(requests_total, user="", api="", status="403") == 1
    assert not any("nobody" in str(labels) for _, labels in after)

    # The histogram holds the six calls the handler answered (not the refusals, not the GET).
    duration = "hub_gateway_request_duration_seconds"
    assert delta(f"{duration}_count", **alice) == 6
    assert delta(f"{duration}_sum", **alice) > 0
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in after.items()
        if name == f"{duration}_bucket" and dict(labels)["api"] == "behave"
    )
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and buckets[-1] == (
        float("inf"),
        after[(f"{duration}_count", frozenset(alice.items()))],
    )
    assert buckets[0][0] == 0.00008 and len(buckets) == 21  # one edge per doubling, and +Inf

    version = {**alice, "version": "1"}
    assert value(after, "hub_workers", **version) >= 1
    assert value(after, "hub_queue_length", **version) == 0
    assert value(after, "hub_workers_busy", **version) == 0
    assert value(after, "hub_gateway_inflight") == 0
    assert value(after, "process_resident_memory_bytes") > 0  # prometheus_client's own


def test_a_cold_start_is_counted(platform):
    project = platform.make_project("sleepy", runtime={"idle_seconds": 0.5})
    endpoint = platform.deploy(project)["endpoint"]
    key = platform.key()
    sleepy = {"user": platform.user, "api": "sleepy"}
    assert post(endpoint, key, "1").status_code == 200
    wait_until(
        lambda: platform.control("GET", "/api/v1/apis/sleepy").json()["status"] == "cold",
        "scaled to zero",
    )
    before = value(samples(scrape(platform).text), "hub_cold_starts_total", **sleepy)
    assert value(samples(scrape(platform).text), "hub_workers", **sleepy, version="1") == 0
    assert post(endpoint, key, "2").status_code == 200  # waits for a new worker to load
    after = samples(scrape(platform).text)
    assert value(after, "hub_cold_starts_total", **sleepy) == before + 1
    assert value(after, "hub_workers", **sleepy, version="1") == 1


def test_openmetrics_when_asked(platform, behaviour_api):
    resp = scrape(platform, Accept="application/openmetrics-text; version=1.0.0")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/openmetrics-text")
    names = {name for name, _ in samples(resp.text, parse_om)}
    assert {"hub_gateway_requests_total", "hub_gateway_inflight", "hub_workers"} <= names


def test_only_an_admin_token_reads_the_metrics(platform, behaviour_api):
    _, key = behaviour_api
    missing = scrape(platform, token=False)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "missing_token"
    assert "Bearer" in missing.json()["error"]["message"]
    # An API key is for calling APIs, not for reading every user's API names.
    assert scrape(platform, token=False, **{"x-api-key": key}).status_code == 401
    assert scrape(platform, token="not-a-token").json()["error"]["type"] == "invalid_token"
    carol = platform.add_user("carol")
    refused = scrape(platform, token=carol)
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "forbidden"
    assert "behave" not in refused.text
    wrong = requests.post(
        f"{platform.url}/metrics", headers={"Authorization": f"Bearer {platform.token}"}, timeout=30
    )
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"
