"""Agent actions end to end, on the plugin's real PostgreSQL and NATS: the policy engine answers
require_approval and stages the approval request (committed before the answer), the
approval workflow receives it, two approvers grant it, and the agent re-authorizes with the
approval id: allowed once, for that agent and that exact input, before the expiry; refused
with a reason otherwise, and fail-closed when the workflow cannot be reached."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from cortex_kit.db import Database
from cortex_kit.testing.clock import Clock
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from policy_engine.app import create_app as policy_app
from policy_engine.models import messaging as policy_messaging
from policy_engine.settings import Settings as PolicySettings
from tests.integration.approval_workflow.conftest import Start, client
from tests.integration.conftest import Served, serve_app

AGENCY = "acme"
HEADERS = {"X-Cortex-Agency": AGENCY, "X-Cortex-Principal": "key-agent-7"}
POLICY = """\
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata: {name: acme, agency: acme, layer: agency}
spec:
  rules:
    - id: payments.refunds
      match:
        actions: ["payments.refund"]
      effect: require_approval
      message: Refunds need two people of finance.
      remediation: Wait for finance to approve.
      approval:
        roles: [finance]
        quorum: 2
        expires_in: 1h
    - id: payments.no-bulk
      match:
        actions: ["payments.refund"]
        resources: ["bulk/*"]
      effect: deny
      message: No bulk refunds.
      remediation: Refund order by order.
"""


def refund(agent: str = "agent-7", amount: int = 120, **extra: Any) -> dict[str, Any]:
    return {
        "agent_id": agent,
        "action": {"type": "payments.refund", "resource": "order/42"},
        "payload": {"amount": amount, "currency": "EUR"},
        "context": {"ticket": "T-1"},
        **extra,
    }


async def serve_engine(database_url: str, nats_url: str, workflow_url: str) -> Served:
    def build(port: int) -> Any:
        return policy_app(
            PolicySettings(
                port=port,
                database_url=database_url,
                nats_url=nats_url,
                log_json=False,
                log_level="WARNING",
                outbox_poll_interval_s=0.2,
                internal_secret=TEST_INTERNAL_SECRET,
                decision_log_delay_s=0.02,
                approval_workflow_url=workflow_url,
            )
        )

    served = await serve_app(build)
    async with httpx.AsyncClient(headers=HEADERS, auth=signed()) as c:
        put = await c.put(
            f"{served.url}/v1/agencies/{AGENCY}/policy",
            content=POLICY,
            headers={"Content-Type": "application/yaml"},
        )
        assert put.status_code == 201, put.text
    return served


async def authorize(engine: Served, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(headers=HEADERS, auth=signed(), timeout=30) as c:
        answer = await c.post(f"{engine.url}/v1/authorize", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def staged_requests(database_url: str) -> list[str]:
    """Envelope subjects of the engine's outbox rows for approval requests (committed)."""
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            o = policy_messaging.outbox
            rows = await session.scalars(
                select(o.c.subject).where(o.c.subject.startswith("cortex.approval.requested."))
            )
            return list(rows)
    finally:
        await db.dispose()


async def received(workflow: Served, approval_id: str) -> dict[str, Any]:
    """The request once the workflow has consumed its event (polled; no timing asserted)."""
    async with client(workflow) as c:
        for _ in range(300):
            got = await c.get(f"/v1/approvals/{approval_id}")
            if got.status_code == 200:
                body: dict[str, Any] = got.json()
                return body
            assert got.status_code == 404, got.text
            await asyncio.sleep(0.1)
    raise AssertionError(f"approval {approval_id} never reached the workflow")


async def grant(workflow: Served, approval_id: str) -> None:
    for who in ("alice", "bob"):
        async with client(workflow, principal=who, roles="finance") as c:
            made = await c.post(
                f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"}
            )
            assert made.status_code == 200, made.text
    async with client(workflow) as c:
        waited = await c.get(f"/v1/approvals/{approval_id}", params={"wait": 30})
    assert waited.json()["status"] == "granted", waited.text


async def test_from_require_approval_to_allow_once(
    start: Start, database_url: str, nats_url: str
) -> None:
    clock = Clock()
    workflow = await start(clock=clock)
    engine = await serve_engine(database_url, nats_url, workflow.url)
    try:
        first = await authorize(engine, refund())
        # Kill-safe: the request's event is committed in the outbox when the answer arrives.
        assert await staged_requests(database_url) == [f"cortex.approval.requested.{AGENCY}"]
        assert first["decision"] == "require_approval"
        approval = first["approval"]
        assert approval["status"] == "pending"
        assert approval["roles"] == ["finance"]
        assert approval["quorum"] == 2
        assert approval["status_url"] == f"/v1/approvals/{approval['id']}"
        assert approval["input_hash"].startswith("sha256:")
        assert approval["expires_at"]

        stored = await received(workflow, approval["id"])
        assert stored["status"] == "pending"
        assert stored["subject"] == {
            "kind": "action",
            "id": approval["subject_id"],
            "input_hash": approval["input_hash"],
        }
        assert stored["requested_by"] == "agent-7"

        # Pending: refused, the same approval named, no new request.
        waiting = await authorize(engine, refund(approval_id=approval["id"]))
        assert waiting["decision"] == "require_approval"
        assert waiting["reasons"][0]["code"] == "approval_not_granted"
        assert waiting["approval"]["id"] == approval["id"]
        assert waiting["approval"]["status"] == "pending"
        assert len(await staged_requests(database_url)) == 1

        await grant(workflow, approval["id"])

        # Another payload, another agent: refused, and each gets a request of its own.
        other_payload = await authorize(engine, refund(amount=9_999, approval_id=approval["id"]))
        assert other_payload["decision"] == "require_approval"
        assert other_payload["reasons"][0]["code"] == "approval_input_mismatch"
        assert other_payload["approval"]["id"] != approval["id"]
        other_agent = await authorize(engine, refund(agent="agent-8", approval_id=approval["id"]))
        assert other_agent["decision"] == "require_approval"
        assert other_agent["reasons"][0]["code"] == "approval_agent_mismatch"

        allowed = await authorize(engine, refund(approval_id=approval["id"]))
        assert allowed["decision"] == "allow", allowed
        reason = allowed["reasons"][0]
        assert (reason["code"], reason["effect"]) == ("approved", "allow")
        assert approval["id"] in reason["message"]
        assert "alice" in reason["message"]
        assert "bob" in reason["message"]
        assert allowed["approval"]["status"] == "granted"
        assert allowed["approval"]["approvers"] == ["alice", "bob"]

        again = await authorize(engine, refund(approval_id=approval["id"]))
        assert again["decision"] == "require_approval"
        assert again["reasons"][0]["code"] == "approval_used"
        assert again["approval"]["id"] != approval["id"]  # a new one is requested
        assert again["approval"]["status"] == "pending"
        await received(workflow, again["approval"]["id"])

        # Expired: granted, then past its expiry on the workflow's clock.
        second = again["approval"]["id"]
        await grant(workflow, second)
        clock.advance(2 * 3600)
        expired = await authorize(engine, refund(approval_id=second))
        assert expired["decision"] == "require_approval"
        assert expired["reasons"][0]["code"] == "approval_expired"

        # The workflow down: fail closed.
        await workflow.stop()
        down = await authorize(engine, refund(approval_id=second))
        assert down["decision"] == "require_approval"
        assert down["reasons"][0]["code"] == "approval_unverifiable"
        assert down["reasons"][0]["remediation"].startswith("Retry")
    finally:
        await engine.stop()


async def test_an_approval_id_does_not_turn_a_deny_into_an_allow(
    start: Start, database_url: str, nats_url: str
) -> None:
    workflow = await start()
    engine = await serve_engine(database_url, nats_url, workflow.url)
    try:
        denied = await authorize(
            engine,
            {
                "agent_id": "agent-7",
                "action": {"type": "payments.refund", "resource": "bulk/1"},
                "approval_id": "anything",
            },
        )
    finally:
        await engine.stop()
    assert denied["decision"] == "deny"  # deny beats the approval rule, whatever the id
    assert denied["approval"] is None
    assert {r["code"] for r in denied["reasons"]} == {"rule_denied", "approval_required"}
    assert await staged_requests(database_url) == []


async def test_a_use_is_the_engines_once_per_decision_and_one_of_concurrent_wins(
    start: Start,
) -> None:
    from tests.integration.approval_workflow.conftest import request_body

    workflow = await start()
    h = "sha256:" + "cd" * 32
    body = request_body(subject={"kind": "action", "id": "act-1", "input_hash": h})
    async with client(workflow, principal="agent-7") as c:
        made = await c.post("/v1/approvals", json={**body, "required_roles": [], "quorum": 1})
        assert made.status_code == 201, made.text
    approval_id = made.json()["id"]
    async with client(workflow, principal="alice") as c:
        ok = await c.post(f"/v1/approvals/{approval_id}/decisions", json={"decision": "approve"})
        assert ok.status_code == 200, ok.text

    use = {"input_hash": h, "agent_id": "agent-7"}
    async with client(workflow, principal="key-of-someone") as c:
        forbidden = await c.post(
            f"/v1/approvals/{approval_id}/uses", json={**use, "decision_id": "d"}
        )
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "approval_use_forbidden"

    async with client(workflow, principal="service:policy-engine") as c:
        answers = await asyncio.gather(
            *(
                c.post(f"/v1/approvals/{approval_id}/uses", json={**use, "decision_id": f"d-{n}"})
                for n in range(4)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 409, 409, 409], [a.text for a in answers]
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"approval_used"}
        winner = next(a.json() for a in answers if a.status_code == 200)
        assert winner["uses"] == 1
        assert winner["approvers"] == ["alice"]
        # The winning decision asking again (a retry): the same answer, no second use.
        retry = await c.post(
            f"/v1/approvals/{approval_id}/uses", json={**use, "decision_id": winner["decision_id"]}
        )
        assert retry.status_code == 200
        assert retry.json()["repeated"] is True
        assert retry.json()["uses"] == 1
