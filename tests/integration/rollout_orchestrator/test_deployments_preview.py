"""POST /v1/deployments/preview: what creation would answer, stored nowhere — the batches, busy
targets, the policy's evaluation and the status or refusal; then creation answers the same."""

from __future__ import annotations

from typing import Any

import httpx

from cortex_kit.testing.clock import Clock
from tests.integration.rollout_orchestrator.conftest import Start, client
from tests.integration.rollout_orchestrator.deployments_helpers import FakePolicy, plan, register
from tests.integration.rollout_orchestrator.test_deployments import ACTOR, create, started

DENY = {
    "code": "batch_too_large",
    "effect": "deny",
    "message": "too many",
    "remediation": "smaller",
    "rule_id": "deployments.max_agents_per_batch",
    "actual": 3,
    "limit": 2,
}


async def preview(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/deployments/preview", json=body, headers=ACTOR)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_preview_shows_the_batches_and_creates_nothing(start: Start) -> None:
    policy = FakePolicy()
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        ids = await register(http, 5)
        seen = await preview(http, plan(ids, batch=2))
        listed = (await http.get("/v1/deployments")).json()
        created = await create(http, plan(ids, batch=2))
    assert seen["status"] == "running"
    assert seen["refusal"] is None
    assert [b["size"] for b in seen["batches"]] == [2, 2, 1]
    assert seen["evaluation"]["verdict"] == "pass"
    assert seen["evaluation_request"]["target_agents"] == 5
    assert listed["items"] == []
    assert created["status"] == "running"
    assert [b["agent_ids"] for b in created["batches"]] == [b["agent_ids"] for b in seen["batches"]]
    assert len(policy.requests) == 2  # the preview and creation both asked the policy


async def test_a_preview_of_busy_targets_names_them_and_still_asks_the_policy(
    start: Start,
) -> None:
    policy = FakePolicy()
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        ids = await register(http, 3)
        first = await create(http, plan(ids[:2], batch=2))
        seen = await preview(http, plan(ids, batch=3, revision="rev-3"))
    assert seen["status"] == "refused"
    assert (seen["refusal"]["status"], seen["refusal"]["code"]) == (409, "targets_busy")
    assert seen["conflicts"] == [{"agent_id": a, "deployment_id": first["id"]} for a in ids[:2]]
    assert seen["evaluation"]["verdict"] == "pass"


async def test_a_blocked_plan_previews_the_refusal_with_its_reasons(start: Start) -> None:
    served = await started(start, Clock(), FakePolicy(verdict="fail", reasons=[DENY]))
    async with client(served) as http:
        ids = await register(http, 3)
        seen = await preview(http, plan(ids, batch=3))
        created = await http.post("/v1/deployments", json=plan(ids, batch=3), headers=ACTOR)
    assert (seen["status"], seen["refusal"]["code"]) == ("refused", "deployment_blocked")
    assert seen["refusal"]["extra"]["reasons"][0]["rule_id"] == DENY["rule_id"]
    assert created.status_code == seen["refusal"]["status"] == 422


async def test_an_override_previews_the_approval_it_would_ask_for(start: Start) -> None:
    served = await started(start, Clock(), FakePolicy(verdict="fail", reasons=[DENY]))
    overrides = [{"limit": "max_agents_per_batch", "reason": "sev1 hotfix"}]
    async with client(served) as http:
        ids = await register(http, 3)
        seen = await preview(http, plan(ids, batch=3, overrides=overrides))
    assert seen["status"] == "pending_approval"
    assert seen["approval"]["quorum"] >= 1
    assert seen["overrides"] == ["max_agents_per_batch"]


async def test_unknown_targets_and_bad_plans_are_refused_as_creation_refuses_them(
    start: Start,
) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        await register(http, 1)
        unknown = await preview(http, plan(["agent-000", "ghost"], batch=1))
        bad = await http.post("/v1/deployments/preview", json={"service": 1}, headers=ACTOR)
    assert unknown["refusal"]["code"] == "unknown_targets"
    assert unknown["refusal"]["extra"]["missing"] == ["ghost"]
    assert unknown["evaluation"] is None
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_plan"


async def test_a_policy_engine_that_fails_previews_policy_unavailable(start: Start) -> None:
    policy = FakePolicy(fail_with=httpx.ConnectError("down"))
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        ids = await register(http, 1)
        seen = await preview(http, plan(ids, batch=1))
    assert (seen["refusal"]["status"], seen["refusal"]["code"]) == (503, "policy_unavailable")
