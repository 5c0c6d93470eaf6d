"""The agent runtime SDK against the real gateway and rollout orchestrator: register, follow a
pinned revision within one long-poll, report it applied; a gateway that is down at first, an
apply that raises; a simulated fleet."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from cortex_kit.embedded import free_port
from cortex_sdk.agent import AgentRuntime, Desired, Health, Retry
from cortex_sdk.client import CortexClient
from cortex_sdk.fleet import Fleet

from .conftest import Cluster, Served, gateway_settings
from .test_approvals_gateway import create_key

FAST = Retry(first_s=0.05, max_s=0.5)
WAIT_S = 8.0
"""The agents' long-poll: shorter than the 15 s a served process is given to stop (it waits
for the requests in flight)."""


async def registry(cluster: Cluster, agent_id: str) -> dict[str, Any]:
    async with cluster.client() as admin:
        resp = await admin.get(f"/v1/agents/{agent_id}", params={"agency": "acme"})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def pin(cluster: Cluster, agent_id: str, revision: str) -> None:
    async with cluster.client() as admin:
        resp = await admin.put(
            f"/v1/agents/{agent_id}/desired", params={"agency": "acme"}, json={"revision": revision}
        )
    assert resp.status_code == 200, resp.text


async def until(cluster: Cluster, agent_id: str, **expected: Any) -> dict[str, Any]:
    """The agent as the registry shows it once it has every ``expected`` value (≤ 20 s)."""
    for _ in range(400):
        agent = await registry(cluster, agent_id)
        if all(agent.get(k) == v for k, v in expected.items()):
            return agent
        await asyncio.sleep(0.05)
    raise AssertionError(f"{agent_id} never showed {expected}: {agent}")


async def test_an_agent_applies_a_pinned_revision_and_reports_it(cluster: Cluster) -> None:
    key = await create_key(cluster, "acme", "agent")
    seen: list[Desired] = []
    applied = asyncio.Event()

    async def apply(desired: Desired) -> None:
        seen.append(desired)
        applied.set()

    runtime = AgentRuntime(
        CortexClient(cluster.gateway_url, key),
        "agent-1",
        {"team": "payments"},
        "python-3.12",
        apply=apply,
        health=lambda: Health(True, {"latency_ms": 12.5}),
        heartbeat_s=300,  # only the report right after the apply can say it was applied
        revision="rev-1",
        wait_s=WAIT_S,
    )
    async with runtime:
        await asyncio.wait_for(runtime.registered.wait(), 20)
        first = await until(cluster, "agent-1", applied_revision="rev-1")
        assert (first["healthy"], first["health"]) == (True, {"latency_ms": 12.5})
        await pin(cluster, "agent-1", "rev-2")
        # a long-poll is waiting: the pin is seen within it, not at the next poll
        await asyncio.wait_for(applied.wait(), WAIT_S - 1)
        shown = await until(cluster, "agent-1", applied_revision="rev-2")
    assert seen == [Desired("rev-2", "rev-1")]
    assert (shown["desired_revision"], shown["status"]) == ("rev-2", "healthy")
    assert runtime.applied_revision == "rev-2"


async def test_a_gateway_down_at_first_is_retried_until_it_answers(cluster: Cluster) -> None:
    from gateway.app import create_app

    key = await create_key(cluster, "acme", "agent")
    port = free_port()
    runtime = AgentRuntime(
        CortexClient(f"http://127.0.0.1:{port}", key),
        "agent-late",
        {},
        "python-3.12",
        apply=lambda _: None,
        health=lambda: Health(True),
        heartbeat_s=0.2,
        revision="rev-1",
        retry=FAST,
        wait_s=1,
    )
    runtime.start()
    await asyncio.sleep(0.5)  # several refused connections meanwhile
    assert not runtime.registered.is_set()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway_settings(cluster, port)),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
        )
    )
    served = Served(
        server.config.app, f"http://127.0.0.1:{port}", server, asyncio.create_task(server.serve())
    )
    try:
        await asyncio.wait_for(runtime.registered.wait(), 30)
        agent = await until(cluster, "agent-late", applied_revision="rev-1", healthy=True)
    finally:
        await runtime.stop()
        await served.stop()
    assert agent["status"] == "healthy"


async def test_an_apply_that_raises_reports_unhealthy_and_keeps_running(cluster: Cluster) -> None:
    key = await create_key(cluster, "acme", "agent")

    def apply(desired: Desired) -> None:
        if desired.revision == "rev-bad":
            raise ValueError("model file missing")

    runtime = AgentRuntime(
        CortexClient(cluster.gateway_url, key),
        "agent-2",
        {},
        "python-3.12",
        apply=apply,
        health=lambda: Health(True),
        heartbeat_s=300,
        revision="rev-1",
        wait_s=WAIT_S,
    )
    async with runtime:
        await asyncio.wait_for(runtime.registered.wait(), 20)
        await pin(cluster, "agent-2", "rev-bad")
        failed = await until(cluster, "agent-2", healthy=False)
        await pin(cluster, "agent-2", "rev-good")
        recovered = await until(cluster, "agent-2", applied_revision="rev-good", healthy=True)
    assert failed["applied_revision"] == "rev-1"
    assert failed["health"] == {
        "apply_error": "ValueError: model file missing",
        "apply_failed_revision": "rev-bad",
    }
    assert recovered["health"] == {}


async def test_a_simulated_fleet_follows_its_revisions_and_scripted_health(
    cluster: Cluster,
) -> None:
    key = await create_key(cluster, "acme", "agent")
    fleet = Fleet(CortexClient(cluster.gateway_url, key), 20, heartbeat_s=300, wait_s=WAIT_S)
    async with fleet:
        for agent_id in fleet.ids[:5]:
            await pin(cluster, agent_id, "rev-1")
        fleet.set_healthy(fleet.ids[:2], False, reason="errors")
        fleet.report_now(fleet.ids[:2])
        sick = await until(cluster, fleet.ids[0], healthy=False)
        for agent_id in fleet.ids[:5]:
            await until(cluster, agent_id, applied_revision="rev-1")
        sent, acknowledged, in_flight = fleet.heartbeats()
    assert sick["health"] == {"reason": "errors"}
    assert {a.agent_id for a in fleet.applied} == set(fleet.ids[:5])
    assert set(fleet.revisions().values()) == {"rev-0", "rev-1"}
    assert sent == acknowledged + in_flight
