"""POST /v1/deployments: YAML or JSON, idempotency, targets, the policy's verdict (fail closed),
approvals and overrides, and what the bus hears (approval.decided, policy.violation)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import nats
import yaml

from cortex_contracts import (
    ApprovalDecided,
    ApprovalOutcome,
    ApprovalRequested,
    PolicyViolation,
    SubjectKind,
    encode,
    pack,
    subject_for,
)
from cortex_kit.testing.clock import Clock
from rollout_orchestrator.state import state_of
from tests.integration.conftest import Served
from tests.integration.rollout_orchestrator.conftest import Start, client
from tests.integration.rollout_orchestrator.deployments_helpers import (
    FakePolicy,
    beat,
    outbox_payloads,
    plan,
    register,
)
from tests.integration.rollout_orchestrator.test_deployments import (
    ACTOR,
    create,
    desired,
    record,
    started,
    tick,
)


async def post(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await http.post("/v1/deployments", json=body, headers={**ACTOR, **headers})


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["remediation"]
    return body


async def test_a_yaml_plan_is_accepted_and_asks_the_policy(start: Start) -> None:
    policy = FakePolicy()
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        await register(http, 3)
        text = yaml.safe_dump(plan(selector={"team": "payments"}, batch=2, team="payments"))
        response = await http.post(
            "/v1/deployments",
            content=text,
            headers={**ACTOR, "Content-Type": "application/yaml"},
        )
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status_url"] == f"/v1/deployments/{run['id']}"
    assert run["decision"]["verdict"] == "pass"
    assert run["actor"] == "key-ci"
    sent = policy.requests[0]
    assert (sent["target_agents"], sent["batch_size"], sent["change_kind"]) == (3, 2, "prompt")
    assert sent["deployment_id"] == run["id"]


async def test_bad_plans_are_422_with_locations(start: Start) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        await register(http, 1)
        invalid = await post(http, {"service": "x"})
        not_yaml = await http.post(
            "/v1/deployments",
            content=b"a: [unclosed",
            headers={**ACTOR, "Content-Type": "application/yaml"},
        )
        tagged = await http.post(
            "/v1/deployments",
            content=b"!!python/object/apply:os.system ['true']",
            headers={**ACTOR, "Content-Type": "application/yaml"},
        )
        none = await post(http, plan(selector={"team": "nobody"}))
        unknown = await post(http, plan(["agent-000", "ghost"]))
    body = problem(invalid, 422, "invalid_plan")
    assert ["targets"] in [e["loc"] for e in body["errors"]]
    problem(not_yaml, 422, "invalid_plan")
    problem(tagged, 422, "invalid_plan")
    problem(none, 422, "no_targets")
    assert problem(unknown, 422, "unknown_targets")["missing"] == ["ghost"]


async def test_the_same_idempotency_key_gives_the_same_run(start: Start) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        ids = await register(http, 2)
        key = {"Idempotency-Key": "deploy-42"}
        first = await post(http, plan(ids), **key)
        again = await post(http, plan(ids), **key)
        other = await post(http, plan(ids, revision="rev-3"), **key)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    problem(other, 422, "idempotency_key_reused")


async def test_targets_in_an_active_run_are_busy(start: Start) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        ids = await register(http, 3)
        first = await create(http, plan(ids[:2]))
        busy = await post(http, plan(ids[1:], revision="rev-3"))
        await http.post(f"/v1/deployments/{first['id']}/abort", json={"reason": "x"}, headers=ACTOR)
        after = await post(http, plan(ids[1:], revision="rev-3"))
    body = problem(busy, 409, "targets_busy")
    assert body["conflicts"] == [{"agent_id": ids[1], "deployment_id": first["id"]}]
    assert after.status_code == 202


async def test_a_failed_verdict_blocks_and_an_unreachable_policy_fails_closed(
    start: Start,
) -> None:
    reason = {
        "code": "batch_too_large",
        "effect": "deny",
        "message": "batch of 2 over 1",
        "remediation": "smaller batches",
        "rule_id": "deploy.max-batch",
        "actual": 2,
        "limit": 1,
    }
    policy = FakePolicy(verdict="fail", reasons=[reason])
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        ids = await register(http, 2)
        blocked = await post(http, plan(ids))
        policy.fail_with = httpx.ConnectTimeout("slow")
        unavailable = await post(http, plan(ids))
        listed = (await http.get("/v1/deployments")).json()
    body = problem(blocked, 422, "deployment_blocked")
    assert body["reasons"][0]["rule_id"] == "deploy.max-batch"
    problem(unavailable, 503, "policy_unavailable")
    assert listed["items"] == []  # nothing stored


async def publish(nats_url: str, payload: Any, agency: str = "acme") -> None:
    nc = await nats.connect(nats_url)
    try:
        envelope = pack(payload, agency=agency, source="approval-workflow")
        await nc.jetstream().publish(
            subject_for(payload, agency), encode(envelope), headers={"Nats-Msg-Id": envelope.id}
        )
    finally:
        await nc.close()


async def until_status(http: httpx.AsyncClient, run_id: str, status: str) -> dict[str, Any]:
    for _ in range(100):
        got = await record(http, run_id)
        if got["status"] == status:
            return got
        await http.get(f"/v1/deployments/{run_id}", params={"version": got["version"], "wait": 1})
    raise AssertionError(f"{run_id} never reached {status}: {got}")


async def pending_run(
    start: Start, migrated_database_url: str, **extra: Any
) -> tuple[Served, dict[str, Any], ApprovalRequested]:
    approval = {"roles": ["sre"], "quorum": 2, "expires_in_s": 600, "rule_ids": ["r1"]}
    policy = FakePolicy(verdict="needs_approval", approval=approval)
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        ids = await register(http, 2)
        run = await create(http, plan(ids, **extra))
    requested = [
        p
        for p in await outbox_payloads(migrated_database_url, "cortex.approval.")
        if isinstance(p, ApprovalRequested)
    ]
    assert len(requested) == 1
    return served, run, requested[0]


def decided(run: dict[str, Any], outcome: ApprovalOutcome, by: list[str]) -> ApprovalDecided:
    return ApprovalDecided(
        approval_id=run["approval"]["id"],
        agency="acme",
        outcome=outcome,
        decided_by=by,
        subject_kind=SubjectKind.SUBJECT_KIND_DEPLOYMENT,
        subject_id=run["id"],
        reason="no" if outcome != ApprovalOutcome.APPROVAL_OUTCOME_GRANTED else "",
    )


async def test_a_run_needing_approval_waits_and_proceeds_on_a_grant(
    start: Start, migrated_database_url: str, nats_url: str
) -> None:
    served, run, requested = await pending_run(start, migrated_database_url)
    assert run["status"] == "pending_approval"
    assert run["approval"]["status"] == "pending"
    assert requested.subject_id == run["id"]
    assert requested.subject_kind == SubjectKind.SUBJECT_KIND_DEPLOYMENT
    assert (list(requested.required_roles), requested.quorum) == (["sre"], 2)
    await tick(served)  # nothing moves before the grant
    await publish(nats_url, decided(run, ApprovalOutcome.APPROVAL_OUTCOME_GRANTED, ["ann", "bo"]))
    async with client(served) as http:
        got = await until_status(http, run["id"], "running")
        await tick(served)
        applied = await record(http, run["id"])
    assert got["approval"]["status"] == "granted"
    assert got["approval"]["approvers"] == ["ann", "bo"]
    assert got["timeline"][-1]["reason_code"] == "approval_granted"
    assert applied["batches"][0]["status"] == "observing"


async def test_a_rejected_or_expired_approval_ends_the_run_rejected(
    start: Start, migrated_database_url: str, nats_url: str
) -> None:
    served, run, _ = await pending_run(start, migrated_database_url)
    await publish(nats_url, decided(run, ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED, []))
    async with client(served) as http:
        got = await until_status(http, run["id"], "rejected")
    assert got["approval"]["status"] == "expired"
    assert got["timeline"][-1]["reason_code"] == "approval_expired"
    assert got["finished_at"] is not None


async def test_an_override_asks_for_an_approval_naming_it(
    start: Start, migrated_database_url: str
) -> None:
    reason = {"code": "batch_too_large", "effect": "deny", "message": "too big"}
    policy = FakePolicy(verdict="fail", reasons=[reason])
    served = await started(start, Clock(), policy)
    async with client(served) as http:
        ids = await register(http, 2)
        overrides = [{"limit": "max_agents_per_batch", "reason": "sev1 hotfix"}]
        run = await create(http, plan(ids, overrides=overrides))
    assert run["status"] == "pending_approval"
    assert run["overrides"] == [
        {
            "limit": "max_agents_per_batch",
            "reason": "sev1 hotfix",
            "approval_id": run["approval"]["id"],
        }
    ]
    requested = next(
        p
        for p in await outbox_payloads(migrated_database_url, "cortex.approval.")
        if isinstance(p, ApprovalRequested)
    )
    assert "override max_agents_per_batch: sev1 hotfix" in requested.reason
    assert list(requested.required_roles) == ["admin"]


async def test_a_policy_violation_of_an_agent_in_a_run_rolls_it_back(
    start: Start, nats_url: str
) -> None:
    clock = Clock()
    served = await started(start, clock)
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids, batch=1)))["id"]
        await tick(served)
        touched = (await record(http, run_id))["batches"][0]["agent_ids"]
        await beat(http, touched, "rev-2")
        violation = PolicyViolation(
            agency="acme",
            agent_id=touched[0],
            rule_id="pii.block-ssn",
            decision_id="d-1",
            message="SSN sent to a model",
        )
        await publish(nats_url, violation)
        got = await until_status(http, run_id, "rolling_back")
        assert set((await desired(http, ids)).values()) == {"rev-1"}
        await beat(http, touched, "rev-1")
        await tick(served)
        done = await record(http, run_id)
    assert got["rollback"]["trigger"] == "policy_violation"
    assert got["rollback"]["rule_id"] == "pii.block-ssn"
    assert got["timeline"][-1]["actor_kind"] == "policy"
    assert got["timeline"][-1]["actor"] == "pii.block-ssn"
    assert done["status"] == "rolled_back"


async def test_the_record_long_poll_answers_when_the_version_changes(start: Start) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        ids = await register(http, 1)
        run = await create(http, plan(ids))
        waiting = asyncio.create_task(
            http.get(f"/v1/deployments/{run['id']}", params={"version": run["version"], "wait": 20})
        )
        await asyncio.sleep(0.2)
        await state_of.in_app(served.app).reconciler.tick()
        answer = await asyncio.wait_for(waiting, 10)
    assert answer.json()["version"] > run["version"]


async def test_a_violation_naming_the_deployment_rolls_it_back(start: Start, nats_url: str) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids[:1], batch=1)))["id"]
        await tick(served)
        other_agent = PolicyViolation(
            agency="acme", agent_id=ids[1], rule_id="budget.cap", deployment_id=run_id
        )
        await publish(nats_url, other_agent)
        got = await until_status(http, run_id, "rolling_back")
    assert got["rollback"]["rule_id"] == "budget.cap"


async def test_a_violation_elsewhere_leaves_runs_alone(start: Start, nats_url: str) -> None:
    served = await started(start, Clock())
    async with client(served) as http:
        ids = await register(http, 2)
        run_id = (await create(http, plan(ids[:1], batch=1)))["id"]
        await tick(served)
        await publish(nats_url, PolicyViolation(agency="acme", agent_id=ids[1], rule_id="r"))
        elsewhere = PolicyViolation(agency="globex", agent_id=ids[0], rule_id="r")
        await publish(nats_url, elsewhere, agency="globex")
        marker = PolicyViolation(agency="acme", agent_id=ids[0], rule_id="last")
        await publish(nats_url, marker)  # delivered after the two others
        got = await until_status(http, run_id, "rolling_back")
    assert got["rollback"]["rule_id"] == "last"
