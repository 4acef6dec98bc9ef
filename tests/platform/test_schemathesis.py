"""Schemathesis against the platform's OpenAPI document: a real platform process, its own token
and key, requests generated from the document (valid and invalid ones), and every answer checked
against it: no 5xx, only documented statuses, bodies that match their schemas, 405 with Allow,
what the document refuses refused, what it allows accepted.

Bounded (a fixed number of examples per operation, derandomized so a run is reproducible) to
stay well under two minutes on a loaded machine. ``POST /api/v1/shutdown`` is left out: it
would stop the platform under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from platform_helpers import PlatformProcess
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

DOC = Path(__file__).parents[2] / "jupyter_hub_api" / "platform" / "openapi.yaml"
EXAMPLES = 25

# Whether a schema-valid request is accepted depends on state the document cannot describe
# (a build record the platform checks in depth, a blob a pending deployment lists, a version to
# roll back to): these answer 400/409 to valid-looking garbage, as they should.
STATEFUL = {
    ("POST", "/api/v1/deployments"),
    ("POST", "/api/v1/deployments/{dep_id}/commit"),
    ("PUT", "/api/v1/blobs/{sha}"),
    ("POST", "/api/v1/apis/{name}/rollback"),
    # min_workers above max_workers is refused, and one of the two may come from the live
    # version's settings, not from the body.
    ("PATCH", "/api/v1/apis/{name}/runtime"),
}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """A platform without limits (the fuzzer calls fast) with one echo API to call."""
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None, "max_apis": None}}
    }
    proc = PlatformProcess(tmp_path_factory.mktemp("fuzzed-home"), config).start()
    proc.deploy(proc.make_project("echo"))
    proc.api_key = proc.key()
    proc.key_id = proc.control("GET", "/api/v1/keys").json()["keys"][0]["id"]
    yield proc
    proc.stop()


# Loaded from the file at import (the document needs no server); requests go to the fixture's
# platform. (schemathesis.pytest.from_fixture does not work with pytest 9.)
schema = schemathesis.openapi.from_path(DOC).exclude(path="/api/v1/shutdown")
schema.config.generation.update(
    modes=list(GenerationMode),
    max_examples=EXAMPLES,
    deterministic=True,
    database="none",
    # The token and key are sent with every case (below): no case is "invalid" for lack of them
    # (missing or bad credentials are test_gateway's and test_control_http's).
    with_security_parameters=False,
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_the_platform_keeps_to_its_openapi_document(case, fuzzed):
    # Half of the cases that name an API name the real one, so they reach more than a 404: the
    # gateway's (any JSON body reaches the handler) and the control plane's reads and rollback
    # (not DELETE nor PATCH: the API must stay as it is for the other cases, a fuzzed runtime
    # would give it a 1e-45 s timeout; not a follow of its logs: that stream
    # lasts until the client goes). Half of the reveals name the real key.
    # Only valid cases: an invalid one must stay invalid where Schemathesis made it so.
    half = (len(repr(case.body)) + len(repr(case.query))) % 2
    if half and case.meta.generation.mode == GenerationMode.POSITIVE:
        params = case.path_parameters
        if case.path == "/{user}/{api}":
            params.update(user=fuzzed.user, api="echo")
        elif (
            "{name}" in case.path and case.method not in ("DELETE", "PATCH") and not _follows(case)
        ):
            params["name"] = "echo"
        elif case.path.endswith("/reveal"):
            params["key_id"] = fuzzed.key_id
    excluded = [positive_data_acceptance] if (case.method, case.path) in STATEFUL else []
    case.call_and_validate(
        base_url=fuzzed.url,
        headers={"Authorization": f"Bearer {fuzzed.token}", "x-api-key": fuzzed.api_key},
        excluded_checks=excluded,
        timeout=60,
    )


def _follows(case) -> bool:
    return str((case.query or {}).get("follow", "")).lower() in ("true", "1", "yes")
