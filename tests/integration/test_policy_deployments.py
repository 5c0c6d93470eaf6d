"""``POST /v1/deployments/evaluate`` on a served policy engine (the plugin's real PostgreSQL and
NATS): policies published over HTTP, plans judged against the caller's effective policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from policy_engine.app import create_app as policy_app
from policy_engine.settings import Settings as PolicySettings
from tests.integration.conftest import Served, serve_app

ROUTE = "/v1/deployments/evaluate"
ACME = """\
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata: {name: acme, agency: acme, layer: agency}
spec:
  deployments:
    max_agents_per_batch: 20
    max_config_changes: 5
    approval_above_risk: 0.6
    approval: {roles: [platform-lead], quorum: 2, expires_in: 2h}
    freeze_windows:
      - start: 2026-12-21T00:00:00Z
        end: 2027-01-04T00:00:00Z
        reason: Year-end change freeze
        environments: ["prod*"]
"""
# A stricter neighbour: were its policy ever used for acme, acme's plans would fail.
GLOBEX = """\
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata: {name: globex, agency: globex, layer: agency}
spec:
  deployments:
    max_agents_per_batch: 2
"""


def headers(agency: str) -> dict[str, str]:
    return {"X-Cortex-Agency": agency, "X-Cortex-Principal": "key-deployer"}


@pytest.fixture
async def engine(database_url: str, nats_url: str) -> AsyncIterator[Served]:
    def build(port: int) -> Any:
        return policy_app(
            PolicySettings(
                port=port,
                database_url=database_url,
                nats_url=nats_url,
                log_json=False,
                log_level="WARNING",
                internal_secret=TEST_INTERNAL_SECRET,
            )
        )

    served = await serve_app(build)
    try:
        async with httpx.AsyncClient(auth=signed(), timeout=30) as c:
            for agency, text in (("acme", ACME), ("globex", GLOBEX)):
                put = await c.put(
                    f"{served.url}/v1/agencies/{agency}/policy",
                    content=text,
                    headers={**headers(agency), "Content-Type": "application/yaml"},
                )
                assert put.status_code == 201, put.text
        yield served
    finally:
        await served.stop()


def plan(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "service": "support-bot",
        "environment": "staging",
        "target_agents": 100,
        "batch_size": 10,
        "config_changes": 2,
        "at": "2026-03-10T12:00:00Z",
    }
    return base | fields


async def evaluate(engine: Served, body: Any, agency: str = "acme") -> httpx.Response:
    async with httpx.AsyncClient(auth=signed(), timeout=30) as c:
        return await c.post(f"{engine.url}{ROUTE}", json=body, headers=headers(agency))


async def answer_of(engine: Served, body: Any, agency: str = "acme") -> dict[str, Any]:
    answer = await evaluate(engine, body, agency)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_plan_within_limits_passes_with_the_effective_limits(engine: Served) -> None:
    answer = await answer_of(engine, plan())
    assert (answer["verdict"], answer["reasons"], answer["approval"]) == ("pass", [], None)
    assert answer["policy_version"] == "agency:1"
    limits = answer["limits"]
    assert (limits["max_agents_per_batch"], limits["max_config_changes"]) == (20, 5)
    assert limits["approval_above_risk"] == 0.6
    assert 0 <= answer["risk_score"] <= 0.6
    assert answer["evaluated_at"]


async def test_a_batch_over_the_limit_fails_naming_actual_and_limit(engine: Served) -> None:
    answer = await answer_of(engine, plan(batch_size=30))
    assert answer["verdict"] == "fail"
    [reason] = answer["reasons"]
    assert (reason["code"], reason["actual"], reason["limit"]) == ("batch_too_large", 30, 20)
    assert reason["rule_id"] == "deployments.max_agents_per_batch"
    assert (reason["policy"], reason["version"], reason["layer"]) == ("acme", 1, "agency")
    assert reason["severity"] == "high"
    assert "20" in reason["remediation"]


async def test_a_freeze_window_fails_and_says_until_when(engine: Served) -> None:
    frozen = plan(environment="production", target_agents=10, at="2026-12-24T10:00:00+01:00")
    answer = await answer_of(engine, frozen)
    assert answer["verdict"] == "fail"
    assert [r["code"] for r in answer["reasons"]] == ["freeze_window"]
    assert answer["reasons"][0]["limit"] == "2027-01-04T00:00:00Z"
    later = plan(environment="production", target_agents=10, at="2027-01-04T00:00:00Z")
    assert (await answer_of(engine, later))["verdict"] == "pass"


async def test_risk_above_the_threshold_needs_approval_with_roles_and_quorum(
    engine: Served,
) -> None:
    answer = await answer_of(engine, plan(risk_score=0.9))
    assert answer["verdict"] == "needs_approval"
    assert [r["code"] for r in answer["reasons"]] == ["risk_above_threshold"]
    assert (answer["reasons"][0]["actual"], answer["reasons"][0]["limit"]) == (0.9, 0.6)
    assert answer["approval"] == {
        "roles": ["platform-lead"],
        "quorum": 2,
        "expires_in_s": 7200,
        "rule_ids": ["deployments.approval_above_risk"],
    }


async def test_no_policy_fails_closed(engine: Served) -> None:
    answer = await answer_of(engine, plan(), agency="initech")
    assert (answer["verdict"], answer["limits"], answer["policy_version"]) == ("fail", None, "none")
    [reason] = answer["reasons"]
    assert (reason["code"], reason["severity"]) == ("no_policy", "critical")
    assert "initech" in reason["remediation"]


async def test_only_the_callers_policy_is_used(engine: Served) -> None:
    acme = await answer_of(engine, plan(batch_size=10), agency="acme")
    globex = await answer_of(engine, plan(batch_size=10), agency="globex")
    assert (acme["verdict"], acme["limits"]["max_agents_per_batch"]) == ("pass", 20)
    assert (globex["verdict"], globex["limits"]["max_agents_per_batch"]) == ("fail", 2)
    assert [(r["policy"], r["limit"]) for r in globex["reasons"]] == [("globex", 2)]


@pytest.mark.parametrize(
    "body",
    [
        plan(batch_size=-1),
        plan(at="2026-12-24T10:00:00"),  # no UTC offset
        plan(change_kind="CONFIG"),
        plan(agency="globex"),  # the agency is the caller's, never the body's
        {"service": "support-bot"},
        "not an object",
    ],
)
async def test_bad_input_is_a_problem_with_code_and_remediation(engine: Served, body: Any) -> None:
    answer = await evaluate(engine, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == "invalid_request"
    assert problem["remediation"]


async def test_an_unsigned_or_agencyless_call_is_refused(engine: Served) -> None:
    async with httpx.AsyncClient(auth=signed(), timeout=30) as c:
        answer = await c.post(f"{engine.url}{ROUTE}", json=plan())
    assert (answer.status_code, answer.json()["code"]) == (400, "agency_required")
    async with httpx.AsyncClient(timeout=30) as c:
        unsigned = await c.post(f"{engine.url}{ROUTE}", json=plan(), headers=headers("acme"))
    assert unsigned.status_code == 401
