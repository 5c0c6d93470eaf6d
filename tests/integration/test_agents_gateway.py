"""The agent registry and the deployments' role checks through the real gateway and rollout
orchestrator: which role may do what, agency isolation, the caller's identity, the desired
revision's long-poll beyond the gateway's upstream timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Cluster, gateway_settings, serve_app
from .test_approvals_gateway import assert_problem, create_key

ROLES = ["admin", "policy-admin", "deployer", "approver", "agent", "viewer"]
AGENT_ROLES = {"admin", "deployer", "agent"}
DEPLOYING_ROLES = {"admin", "deployer"}


def agent_body(agent_id: str = "agent-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": agent_id,
        "labels": {"team": "payments"},
        "runtime": "python-3.12",
        "current_revision": "rev-1",
    }
    return {**body, **overrides}


async def register(cluster: Cluster, agency: str = "acme", agent_id: str = "agent-1") -> str:
    """An agent key of ``agency`` whose agent ``agent_id`` is registered."""
    key = await create_key(cluster, agency, "agent")
    async with cluster.client(key) as client:
        resp = await client.post("/v1/agents", json=agent_body(agent_id))
    assert resp.status_code == 201, resp.text
    return key


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_register_heartbeat_and_long_poll(cluster: Cluster, role: str) -> None:
    key = await create_key(cluster, "acme", role)
    async with cluster.client(key) as client:
        registered = await client.post("/v1/agents", json=agent_body(f"agent-{role}"))
        beat = await client.post(
            "/v1/agents/agent-x/heartbeat", json={"applied_revision": "rev-1", "healthy": True}
        )
        polled = await client.get("/v1/agents/agent-x/desired")
    if role in AGENT_ROLES:
        assert registered.status_code == 201, registered.text
        # agent-x was never registered: the call reached the orchestrator, which says so
        assert_problem(beat, 404, "agent_not_found")
        assert_problem(polled, 404, "agent_not_found")
    else:
        for refused in (registered, beat, polled):
            assert_problem(refused, 403, "role_forbidden")


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_reads_the_agencys_agents(cluster: Cluster, role: str) -> None:
    await register(cluster)
    key = await create_key(cluster, "acme", role)
    async with cluster.client(key) as client:
        listed = await client.get("/v1/agents", params={"selector": "team=payments"})
        got = await client.get("/v1/agents/agent-1")
    assert listed.status_code == 200, listed.text
    assert [a["id"] for a in listed.json()["items"]] == ["agent-1"]
    assert got.status_code == 200, got.text
    assert got.json()["desired_revision"] == "rev-1"


@pytest.mark.parametrize("role", ROLES)
async def test_only_deployers_and_admins_pin_a_desired_revision(
    cluster: Cluster, role: str
) -> None:
    await register(cluster)
    key = await create_key(cluster, "acme", role)
    async with cluster.client(key) as client:
        resp = await client.put("/v1/agents/agent-1/desired", json={"revision": "rev-2"})
    if role in DEPLOYING_ROLES:
        assert resp.status_code == 200, resp.text
        assert resp.json()["desired_revision"] == "rev-2"
    else:
        assert_problem(resp, 403, "role_forbidden")


async def test_another_agency_never_sees_nor_moves_an_agent(cluster: Cluster) -> None:
    await register(cluster, "acme")
    globex_agent = await create_key(cluster, "globex", "agent")
    globex_deployer = await create_key(cluster, "globex", "deployer")
    async with cluster.client(globex_agent) as client:
        assert_problem(await client.get("/v1/agents/agent-1"), 404, "agent_not_found")
        assert (await client.get("/v1/agents")).json()["items"] == []
        beat = await client.post(
            "/v1/agents/agent-1/heartbeat", json={"applied_revision": "rev-9", "healthy": False}
        )
        assert_problem(beat, 404, "agent_not_found")
        named = await client.get("/v1/agents/agent-1", params={"agency": "acme"})
        assert_problem(named, 403, "agency_forbidden")
    async with cluster.client(globex_deployer) as client:
        pinned = await client.put("/v1/agents/agent-1/desired", json={"revision": "rev-9"})
        assert_problem(pinned, 404, "agent_not_found")
        # the same id registered in globex is another agent
        own = await client.post("/v1/agents", json=agent_body(current_revision="rev-7"))
        assert own.status_code == 201, own.text
    async with cluster.client() as admin:
        acme = (await admin.get("/v1/agents/agent-1", params={"agency": "acme"})).json()
        assert_problem(await admin.get("/v1/agents/agent-1"), 400, "agency_required")
    assert (acme["desired_revision"], acme["applied_revision"]) == ("rev-1", None)


async def test_an_agent_sees_a_pinned_revision_within_one_long_poll(cluster: Cluster) -> None:
    agent = await register(cluster)
    deployer = await create_key(cluster, "acme", "deployer")
    async with cluster.client(agent) as client:
        polling = asyncio.create_task(
            client.get("/v1/agents/agent-1/desired", params={"known": "rev-1", "wait": 20})
        )
        await asyncio.sleep(0.2)  # usually waiting by now; if not, it answers at once
        async with cluster.client(deployer) as pin:
            pinned = await pin.put("/v1/agents/agent-1/desired", json={"revision": "rev-2"})
        assert pinned.status_code == 200, pinned.text
        answer = await asyncio.wait_for(polling, 30)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["desired_revision"], answer.json()["changed"]) == ("rev-2", True)


async def test_a_desired_long_poll_outlasts_the_gateways_upstream_timeout(
    cluster: Cluster,
) -> None:
    """Upstream timeout 0.5 s, wait 2 s: the long-poll route is given its wait as a margin,
    so it answers 200 (unchanged), not 503."""
    from gateway.app import create_app

    agent = await register(cluster)
    short = await serve_app(
        lambda port: create_app(gateway_settings(cluster, port, upstream_timeout_s=0.5))
    )
    try:
        async with cluster.client(None) as client:
            resp = await client.get(
                f"{short.url}/v1/agents/agent-1/desired",
                params={"known": "rev-1", "wait": 2},
                headers={"Authorization": f"Bearer {agent}"},
            )
    finally:
        await short.stop()
    assert resp.status_code == 200, resp.text
    assert (resp.json()["desired_revision"], resp.json()["changed"]) == ("rev-1", False)


COMMANDS = ["pause", "resume", "abort", "rollback"]


@pytest.mark.parametrize("role", sorted(set(ROLES) - DEPLOYING_ROLES))
async def test_only_deployers_and_admins_create_and_control_deployments(
    cluster: Cluster, role: str
) -> None:
    """Refused by the gateway before any relay (the orchestrator's answers to the allowed
    roles are its own tests')."""
    key = await create_key(cluster, "acme", role)
    async with cluster.client(key) as client:
        created = await client.post(
            "/v1/deployments",
            content="service: checkout\n",
            headers={"Content-Type": "application/yaml", "Idempotency-Key": "k-1"},
        )
        assert_problem(created, 403, "role_forbidden")
        for command in COMMANDS:
            resp = await client.post(f"/v1/deployments/d-1/{command}", json={"reason": "x"})
            assert_problem(resp, 403, "role_forbidden")


async def test_deployments_are_scoped_to_the_keys_agency(cluster: Cluster) -> None:
    deployer = await create_key(cluster, "globex", "deployer")
    async with cluster.client(deployer) as client:
        for resp in (
            await client.get("/v1/deployments", params={"agency": "acme"}),
            await client.get("/v1/deployments/d-1", params={"agency": "acme"}),
            await client.post(
                "/v1/deployments/d-1/rollback", params={"agency": "acme"}, json={"reason": "x"}
            ),
        ):
            assert_problem(resp, 403, "agency_forbidden")
    async with cluster.client() as admin:
        assert_problem(await admin.get("/v1/deployments"), 400, "agency_required")
