"""The rollout orchestrator with the real services around it: judged by the real policy engine,
an override waits for the real approval workflow and runs once approved; a run on a fleet that
a person rolls back counts in DORA with nothing else to call (one deployment failed and
recovered, detection → every touched agent reverted), and its revision, rolled out again, has
a lead time."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, ROLES_HEADER
from rollout_orchestrator.app import create_app
from rollout_orchestrator.settings import Settings

from .conftest import Cluster, serve_app
from .rollout_orchestrator.deployments_helpers import plan, simulate_fleet

POLICY = """\
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata: {name: acme, agency: acme, layer: agency}
spec:
  deployments:
    max_agents_per_batch: 20
"""


async def publish_policy(cluster: Cluster) -> None:
    async with httpx.AsyncClient(auth=signed(), timeout=30) as c:
        put = await c.put(
            f"{cluster.processes['policy_engine'].url}/v1/agencies/acme/policy",
            content=POLICY,
            headers={
                AGENCY_HEADER: "acme",
                PRINCIPAL_HEADER: "admin",
                "Content-Type": "application/yaml",
            },
        )
        assert put.status_code == 201, put.text


async def until(http: httpx.AsyncClient, run_id: str, status: str) -> dict[str, Any]:
    for _ in range(300):
        got: dict[str, Any] = (await http.get(f"/v1/deployments/{run_id}")).json()
        if got["status"] == status:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"{run_id} never {status}: {got}")


def orchestrator_app(cluster: Cluster, port: int) -> Any:
    return create_app(
        Settings(
            port=port,
            database_url=cluster.database_url,
            nats_url=cluster.nats_url,
            internal_secret=TEST_INTERNAL_SECRET,
            policy_engine_url=cluster.processes["policy_engine"].url,
            log_json=False,
            log_level="WARNING",
            reconcile_interval_s=0.1,
            outbox_poll_interval_s=0.1,
            consumer_ack_wait_s=5.0,
        )
    )


async def test_an_override_waits_for_the_approval_workflow_and_runs_once_approved(
    cluster: Cluster,
) -> None:
    await publish_policy(cluster)
    orchestrator = await serve_app(lambda port: orchestrator_app(cluster, port))
    headers = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "key-ci"}
    try:
        async with httpx.AsyncClient(
            base_url=orchestrator.url, headers=headers, auth=signed(), timeout=30
        ) as http:
            body = {"id": "bot-1", "runtime": "py", "current_revision": "rev-1"}
            assert (await http.post("/v1/agents", json=body)).status_code == 201
            overrides = [{"limit": "freeze_window", "reason": "sev1 hotfix"}]
            created = await http.post(
                "/v1/deployments", json=plan(["bot-1"], batch=1, overrides=overrides)
            )
            assert created.status_code == 202, created.text
            run = created.json()
            assert run["status"] == "pending_approval"
            approvals = cluster.processes["approval_workflow"].url
            approver = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "key-lead", ROLES_HEADER: "admin"}
            async with httpx.AsyncClient(
                base_url=approvals, headers=approver, auth=signed(), timeout=30
            ) as workflow:
                for _ in range(100):  # the request arrives through NATS
                    found = await workflow.get(f"/v1/approvals/{run['approval']['id']}")
                    if found.status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                assert found.status_code == 200, found.text
                assert found.json()["subject"]["id"] == run["id"]
                decision = await workflow.post(
                    f"/v1/approvals/{run['approval']['id']}/decisions",
                    json={"decision": "approve", "comment": "ok"},
                )
                assert decision.status_code in (200, 201), decision.text
            got = await until(http, run["id"], "running")
    finally:
        await orchestrator.stop()
    assert got["approval"]["status"] == "granted"
    assert got["approval"]["approvers"] == ["key-lead"]
    assert got["overrides"][0]["approval_id"] == run["approval"]["id"]


async def test_a_rolled_back_agent_rollout_and_its_retry_count_in_dora(
    cluster: Cluster,
) -> None:
    """A prompt rollout without commits: rolled back by a person, then rolled out again. DORA
    counts three deployments (the run, its rollback, the retry), one failed and recovered, and
    the revision's lead time from the first run's creation to the retry's success."""
    await publish_policy(cluster)
    orchestrator = await serve_app(lambda port: orchestrator_app(cluster, port))
    stop = asyncio.Event()
    headers = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "key-ci"}
    try:
        async with httpx.AsyncClient(
            base_url=orchestrator.url, headers=headers, auth=signed(), timeout=30
        ) as http:
            ids = [f"bot-{n}" for n in range(4)]
            for agent_id in ids:
                body = {"id": agent_id, "runtime": "py", "current_revision": "rev-1"}
                assert (await http.post("/v1/agents", json=body)).status_code == 201
            fleet = asyncio.create_task(simulate_fleet([orchestrator.url], ids, stop))
            the_plan = plan(ids, batch=2, gate={"observation_s": 0})
            created = await http.post("/v1/deployments", json=the_plan)
            assert created.status_code == 202, created.text
            first = created.json()
            await until(http, first["id"], "succeeded")
            rollback = await http.post(
                f"/v1/deployments/{first['id']}/rollback", json={"reason": "bad answers"}
            )
            assert rollback.status_code == 200, rollback.text
            done = await until(http, first["id"], "rolled_back")
            again = await http.post("/v1/deployments", json=the_plan)
            assert again.status_code == 202, again.text
            retry = await until(http, again.json()["id"], "succeeded")
            stop.set()
            await fleet
    finally:
        stop.set()
        await orchestrator.stop()
    assert done["rollback"]["agents_reverted"] == 4
    async with cluster.client() as client:
        for _ in range(100):
            report = (
                await client.get(
                    "/v1/metrics/dora", params={"agency": "acme", "service": "support-bot"}
                )
            ).json()
            if report["deployment_frequency"]["count"] == 3 and report["lead_time"]["n"]:
                break
            await asyncio.sleep(0.1)
    assert report["deployment_frequency"]["count"] == 3, report
    assert report["change_failure_rate"]["failed"] == 1
    assert report["recovery_time"]["n"] == 1
    assert report["lead_time"]["n"] == 1
    lead = datetime.fromisoformat(retry["finished_at"]) - datetime.fromisoformat(
        first["created_at"]
    )
    assert abs(report["lead_time"]["p50_s"] - lead.total_seconds()) < 0.002
