"""Preflight when a service is stopped or silent: it answers within its deadline, names the
service in a finding, and never passes; approvals of the same plan are found."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from .conftest import ORCHESTRATOR, Preflight, start_gateway
from .test_parity import OVERRIDE_FREEZE, agents, plan, policy_of

AGENCY = "acme"


async def arrange(ctx: Preflight, fleet: int = 2) -> None:
    async with ctx.service("policy_engine", AGENCY) as engine:
        put = await engine.put(
            f"/v1/agencies/{AGENCY}/policy",
            content=policy_of(AGENCY, {}),
            headers={"Content-Type": "application/yaml"},
        )
        assert put.status_code == 201, put.text
    async with ctx.service(ORCHESTRATOR, AGENCY) as orchestrator:
        for agent_id in agents(fleet):
            body = {"id": agent_id, "runtime": "py", "current_revision": "rev-1"}
            assert (await orchestrator.post("/v1/agents", json=body)).status_code == 201


async def preflight_of(ctx: Preflight, body: dict[str, Any]) -> dict[str, Any]:
    async with ctx.gateway() as gateway:
        answer = await gateway.post("/v1/preflight", params={"agency": AGENCY}, json=body)
    assert answer.status_code == 200, answer.text
    seen: dict[str, Any] = answer.json()
    return seen


def codes(seen: dict[str, Any]) -> set[str]:
    return {f["code"] for f in seen["findings"]}


@pytest.fixture
async def silent() -> AsyncIterator[str]:
    """A server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def test_a_stopped_policy_engine_fails_as_creation_fails(preflight: Preflight) -> None:
    await arrange(preflight)
    await preflight.cluster.processes["policy_engine"].stop()
    seen = await preflight_of(preflight, plan(agents(2), batch=1))
    async with preflight.service(ORCHESTRATOR, AGENCY) as orchestrator:
        created = await orchestrator.post("/v1/deployments", json=plan(agents(2), batch=1))
    assert seen["verdict"] == "fail"
    assert "policy_engine_unavailable" in codes(seen)
    assert seen["enforcement"] == {
        "status": "refused",
        "http_status": 503,
        "code": "policy_unavailable",
    }
    assert (created.status_code, created.json()["code"]) == (503, "policy_unavailable")


async def test_a_stopped_orchestrator_fails_and_is_named(preflight: Preflight) -> None:
    await arrange(preflight)
    await preflight.cluster.processes[ORCHESTRATOR].stop()
    seen = await preflight_of(preflight, plan(agents(2), batch=1))
    assert seen["verdict"] == "fail"
    assert "rollout_orchestrator_unavailable" in codes(seen)
    assert seen["enforcement"]["status"] == "unknown"
    assert seen["sources"][ORCHESTRATOR]["status"] == "unavailable"


async def test_a_stopped_metrics_collector_turns_a_pass_into_needs_approval(
    preflight: Preflight,
) -> None:
    await arrange(preflight)
    await preflight.cluster.processes["metrics_collector"].stop()
    seen = await preflight_of(preflight, plan(agents(2), batch=1))
    assert seen["enforcement"]["status"] == "running"  # creation would run it …
    assert seen["verdict"] == "needs_approval"  # … but preflight never passes unchecked
    finding = next(f for f in seen["findings"] if f["code"] == "metrics_collector_unavailable")
    assert (finding["severity"], finding["source"]) == ("high", "metrics_collector")


async def test_a_silent_approval_workflow_is_a_finding_after_the_deadline(
    preflight: Preflight, silent: str
) -> None:
    await arrange(preflight)
    await preflight_of(preflight, plan(agents(2), batch=1))  # the policy read into its cache
    cluster = preflight.cluster
    await cluster.processes["gateway"].stop()
    cluster.processes["gateway"] = await start_gateway(
        cluster, approval_workflow_url=silent, preflight_deadline_s=1.0
    )
    seen = await preflight_of(preflight, plan(agents(2), batch=1))
    finding = next(f for f in seen["findings"] if f["code"] == "approval_workflow_unavailable")
    assert "no answer within 1 s" in finding["message"]
    assert seen["verdict"] == "needs_approval"
    assert seen["plan"]["agents_total"] == 2  # the other services' answers are kept


async def test_a_pending_approval_of_the_same_plan_is_found(preflight: Preflight) -> None:
    await arrange(preflight)
    body = plan(agents(2), batch=1, overrides=OVERRIDE_FREEZE)
    async with preflight.service(ORCHESTRATOR, AGENCY) as orchestrator:
        created = await orchestrator.post("/v1/deployments", json=body)
    assert created.status_code == 202, created.text
    for _ in range(100):  # the request reaches the approval workflow through NATS
        seen = await preflight_of(preflight, body)
        if "approval_pending_for_plan" in codes(seen):
            break
        await asyncio.sleep(0.1)
    assert "approval_pending_for_plan" in codes(seen), seen["findings"]
    assert seen["verdict"] == "fail"
    assert seen["enforcement"]["code"] == "targets_busy"
    assert {c["deployment_id"] for c in seen["conflicts"]} == {created.json()["id"]}
