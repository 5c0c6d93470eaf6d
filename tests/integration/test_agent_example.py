"""docs/examples/agents/refund_agent.py, the agent of docs/agents.md, end to end against the
real cluster: it registers, applies the revision a deployer pins, reports its health,
authorizes a refund, waits for two finance approvers, and refunds once approved."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from cortex_sdk.client import CortexClient

from .approval_workflow.test_agent_actions import POLICY
from .conftest import Cluster
from .test_agent_runtime import WAIT_S, pin, until
from .test_approvals_gateway import create_key

EXAMPLE = Path(__file__).resolve().parents[2] / "docs/examples/agents/refund_agent.py"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refund_agent", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


async def approve_when_asked(cluster: Cluster, approvers: list[str]) -> None:
    for _ in range(400):
        async with cluster.client(approvers[0]) as client:
            page = (await client.get("/v1/approvals", params={"status": "pending"})).json()
        if page["items"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the agent never asked for an approval")
    for key in approvers:
        async with cluster.client(key) as client:
            decided = await client.post(
                f"/v1/approvals/{page['items'][0]['id']}/decisions",
                json={"decision": "approve", "comment": "refund checked"},
            )
        assert decided.status_code == 200, decided.text


async def test_the_documented_agent_runs_end_to_end(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        put = await admin.put(
            "/v1/agencies/acme/policy", content=POLICY, headers={"Content-Type": "application/yaml"}
        )
        assert put.status_code in (200, 201), put.text
    key = await create_key(cluster, "acme", "agent")
    approvers = [
        await create_key(cluster, "acme", "approver", approval_roles=["finance"]) for _ in range(2)
    ]
    module = example()
    agent = module.RefundAgent()
    runtime = module.runtime_for(agent, CortexClient(cluster.gateway_url, key), wait_s=WAIT_S)
    async with runtime:
        await asyncio.wait_for(runtime.registered.wait(), 20)
        await pin(cluster, agent.agent_id, "rev-2")
        shown = await until(cluster, agent.agent_id, applied_revision="rev-2", healthy=True)
        deciding = asyncio.create_task(approve_when_asked(cluster, approvers))
        outcome = await agent.refund(runtime, "42", 120)
        await deciding
    assert agent.config == {"model": "gpt-4.1", "prompt": "refunds-v2"}
    assert shown["labels"] == {"team": "payments", "tier": "canary"}
    assert shown["health"] == {"error_rate": 0.0, "model": "gpt-4.1"}
    assert outcome == "refunded 120 EUR on order 42"
