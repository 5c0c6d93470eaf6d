"""The agent path end to end through the gateway, as an agent runtime and two approvers live it:
authorize → require_approval → the SDK waits → two finance approvers approve → re-authorize
with the approval id → allow, once; a replay, another payload and another agent are refused."""

from __future__ import annotations

import asyncio
from typing import Any

from cortex_sdk.client import CortexClient

from .approval_workflow.test_agent_actions import POLICY, refund
from .conftest import Cluster
from .test_approvals_gateway import create_key


async def authorize(cluster: Cluster, key: str, body: dict[str, Any]) -> dict[str, Any]:
    async with cluster.client(key) as client:
        answer = await client.post("/v1/authorize", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def reached_the_workflow(cluster: Cluster, key: str, approval_id: str) -> None:
    async with cluster.client(key) as client:
        for _ in range(200):
            if (await client.get(f"/v1/approvals/{approval_id}")).status_code == 200:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"approval {approval_id} never reached the approval workflow")


def codes(answer: dict[str, Any]) -> set[str]:
    return {reason["code"] for reason in answer["reasons"]}


async def test_an_agent_waits_for_two_approvers_then_acts_once(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        put = await admin.put(
            "/v1/agencies/acme/policy", content=POLICY, headers={"Content-Type": "application/yaml"}
        )
        assert put.status_code in (200, 201), put.text
    agent = await create_key(cluster, "acme", "agent")
    approvers = [
        await create_key(cluster, "acme", "approver", approval_roles=["finance"]) for _ in range(2)
    ]

    asked = await authorize(cluster, agent, refund())
    assert asked["decision"] == "require_approval", asked
    approval = asked["approval"]
    assert approval["status"] == "pending"
    assert approval["input_hash"].startswith("sha256:")
    await reached_the_workflow(cluster, agent, approval["id"])

    sdk = CortexClient(url=cluster.gateway_url, api_key=agent)
    waiting = asyncio.create_task(asyncio.to_thread(sdk.wait_for_approval, approval["id"], 60.0))
    for key in approvers:
        async with cluster.client(key) as client:
            decided = await client.post(
                f"/v1/approvals/{approval['id']}/decisions",
                json={"decision": "approve", "comment": "refund checked"},
            )
        assert decided.status_code == 200, decided.text
    result = await waiting
    assert result.granted, result

    other_payload = await authorize(
        cluster, agent, refund(amount=9_999, approval_id=approval["id"])
    )
    other_agent = await authorize(
        cluster, agent, refund(agent="agent-8", approval_id=approval["id"])
    )
    allowed = await authorize(cluster, agent, refund(approval_id=approval["id"]))
    replayed = await authorize(cluster, agent, refund(approval_id=approval["id"]))

    assert other_payload["decision"] == "require_approval"
    assert "approval_input_mismatch" in codes(other_payload)
    assert other_agent["decision"] == "require_approval"
    assert "approval_agent_mismatch" in codes(other_agent)
    assert allowed["decision"] == "allow", allowed
    assert "approved" in codes(allowed)
    assert replayed["decision"] == "require_approval"
    assert "approval_used" in codes(replayed)
