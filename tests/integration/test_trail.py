"""The trail with the real services and the real rollout orchestrator: a deployment that waited
for an approval, failed its health gate in its second batch and was rolled back, with an incident
that names it. From each of its ids the gateway answers the same linked record; each element is
what its own route answers; the postmortem holds the failing batch's evidence and the times; a
foreign agency's key finds none of it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cortex_kit.testing.internal import signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER

from .conftest import Cluster, gateway_settings, replace_process, serve_app, start_cluster
from .rollout_orchestrator.deployments_helpers import plan
from .test_auth import create_key
from .test_rollout_dora import orchestrator_app, publish_policy, until

AGENCY = {"agency": "acme"}


@pytest.fixture
async def cluster(migrated_database_url: str, nats_url: str) -> AsyncIterator[Cluster]:
    """The services, the rollout orchestrator, and a gateway that relays to all of them."""
    from gateway.app import create_app as gateway_app

    running = await start_cluster(migrated_database_url, nats_url, gateway=False)
    try:
        await replace_process(
            running, "rollout_orchestrator", lambda port: orchestrator_app(running, port)
        )
        running.processes["gateway"] = await serve_app(
            lambda port: gateway_app(
                gateway_settings(
                    running,
                    port,
                    rollout_orchestrator_url=running.processes["rollout_orchestrator"].url,
                )
            )
        )
        yield running
    finally:
        await running.stop()


def orchestrator(cluster: Cluster) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=cluster.processes["rollout_orchestrator"].url,
        headers={AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "key-ci"},
        auth=signed(),
        timeout=30,
    )


async def _fleet(cluster: Cluster, bad: set[str], ids: list[str], stop: asyncio.Event) -> None:
    """Agents apply what they are told; ``bad`` ones are unhealthy on the new revision."""
    async with orchestrator(cluster) as http:
        while not stop.is_set():
            for agent_id in ids:
                got = await http.get(f"/v1/agents/{agent_id}/desired")
                revision = got.json()["desired_revision"]
                healthy = not (agent_id in bad and revision == "rev-2")
                await http.post(
                    f"/v1/agents/{agent_id}/heartbeat",
                    json={"applied_revision": revision, "healthy": healthy},
                )
            await asyncio.sleep(0.1)


async def _approve(cluster: Cluster, approval_id: str) -> None:
    async with cluster.client() as admin:
        for _ in range(100):  # the request reaches the workflow through NATS
            if (await admin.get(f"/v1/approvals/{approval_id}", params=AGENCY)).status_code == 200:
                break
            await asyncio.sleep(0.1)
        decided = await admin.post(
            f"/v1/approvals/{approval_id}/decisions",
            params=AGENCY,
            json={"decision": "approve", "comment": "sev1 hotfix, go"},
        )
        assert decided.status_code in (200, 201), decided.text


async def _incident(cluster: Cluster, run_id: str) -> str:
    incident = {
        "type": "incident",
        "id": f"inc-{run_id[:8]}",
        "service": "support-bot",
        "opened_at": datetime.now(UTC).isoformat(),
        "caused_by_deployment": run_id,
    }
    async with cluster.client() as admin:
        sent = await admin.post("/v1/events", params=AGENCY, json={"events": [incident]})
    assert sent.status_code in (200, 202), sent.text
    return str(incident["id"])


@dataclass(frozen=True)
class RolledBack:
    run: dict[str, Any]
    incident_id: str
    trail: dict[str, Any]

    @property
    def ids(self) -> dict[str, str]:
        return {
            "deployment": self.run["id"],
            "decision": self.run["decision"]["id"],
            "approval": self.run["approval"]["id"],
            "incident": self.incident_id,
        }


async def _settled_trail(cluster: Cluster, run_id: str) -> dict[str, Any]:
    """The trail once the collector has the run's facts and the incident."""
    async with cluster.client() as admin:
        for _ in range(150):
            got = await admin.get(f"/v1/trail/{run_id}", params=AGENCY)
            assert got.status_code == 200, got.text
            body: dict[str, Any] = got.json()
            dora = body["dora"]
            facts = (dora["deployment"]["state"], dora["rollback"]["state"], len(dora["incidents"]))
            if facts == ("found", "found", 1) and body["approval"]["state"] == "found":
                return body
            await asyncio.sleep(0.1)
    raise AssertionError(f"the trail never settled: {body}")


@pytest.fixture
async def rolled_back(cluster: Cluster) -> RolledBack:
    await publish_policy(cluster)
    ids = [f"bot-{n}" for n in range(4)]
    stop = asyncio.Event()
    async with orchestrator(cluster) as http:
        for agent_id in ids:
            body = {"id": agent_id, "runtime": "py", "current_revision": "rev-1"}
            assert (await http.post("/v1/agents", json=body)).status_code == 201
        overrides = [{"limit": "freeze_window", "reason": "sev1 hotfix"}]
        created = await http.post(
            "/v1/deployments",
            json=plan(ids, batch=2, gate={"observation_s": 0}, overrides=overrides),
        )
        assert created.status_code == 202, created.text
        run = created.json()
        assert run["status"] == "pending_approval"
        bad = set(run["batches"][1]["agent_ids"])
        fleet = asyncio.create_task(_fleet(cluster, bad, ids, stop))
        try:
            await _approve(cluster, run["approval"]["id"])
            done = await until(http, run["id"], "rolled_back")
        finally:
            stop.set()
            await fleet
    incident_id = await _incident(cluster, run["id"])
    return RolledBack(done, incident_id, await _settled_trail(cluster, run["id"]))


async def test_every_id_of_the_chain_gives_the_same_linked_record(
    cluster: Cluster, rolled_back: RolledBack
) -> None:
    expected = {k: v for k, v in rolled_back.trail.items() if k not in ("id", "found_as")}
    async with cluster.client() as admin:
        for kind, trail_id in rolled_back.ids.items():
            got = await admin.get(f"/v1/trail/{trail_id}", params=AGENCY)
            assert got.status_code == 200, (kind, got.text)
            body = got.json()
            assert (body["id"], body["found_as"]) == (trail_id, kind)
            assert {k: v for k, v in body.items() if k not in ("id", "found_as")} == expected
    links = rolled_back.trail["links"]
    assert links == {
        "deployment_id": rolled_back.run["id"],
        "decision_id": rolled_back.run["decision"]["id"],
        "approval_id": rolled_back.run["approval"]["id"],
        "incident_ids": [rolled_back.incident_id],
    }


async def test_each_element_is_what_its_own_route_answers(
    cluster: Cluster, rolled_back: RolledBack
) -> None:
    trail, run_id = rolled_back.trail, rolled_back.run["id"]
    async with orchestrator(cluster) as http:
        record = (await http.get(f"/v1/deployments/{run_id}")).json()
    assert trail["deployment"] == {
        "state": "found",
        "source": f"GET /v1/deployments/{run_id}",
        "value": record,
        "reason": None,
    }
    assert trail["decision"]["value"] == record["decision"]
    assert trail["decision"]["source"] == f"GET /v1/deployments/{run_id}#/decision"
    elements = [trail["approval"], trail["dora"]["deployment"], trail["dora"]["rollback"]]
    elements += trail["dora"]["incidents"]
    async with cluster.client() as admin:
        for element in elements:
            method, path = element["source"].split(" ", 1)
            own = await admin.request(method, path, params=AGENCY)
            assert own.status_code == 200, own.text
            assert element["value"] == own.json(), path
    approval = trail["approval"]["value"]
    assert approval["subject"] == {"kind": "deployment", "id": run_id, **_hash(approval)}
    assert [v["approver"] for v in approval["trail"]] == record["approval"]["approvers"]


def _hash(approval: dict[str, Any]) -> dict[str, Any]:
    return {"input_hash": approval["subject"]["input_hash"]}


async def test_the_run_counts_as_failed_with_its_recovery(rolled_back: RolledBack) -> None:
    dora = rolled_back.trail["dora"]
    rollback = rolled_back.run["rollback"]
    assert dora["rollback"]["value"]["facts"]["rollback_of"] == rolled_back.run["id"]
    impact = dora["impact"]
    assert impact["counted_as_failed"] is True
    assert datetime.fromisoformat(impact["detected_at"]) == datetime.fromisoformat(
        rollback["detected_at"]
    )
    assert datetime.fromisoformat(impact["recovered_at"]) == datetime.fromisoformat(
        rollback["finished_at"]
    )


async def test_the_postmortem_holds_the_failing_batchs_evidence_and_the_times(
    cluster: Cluster, rolled_back: RolledBack
) -> None:
    run = rolled_back.run
    async with cluster.client() as admin:
        got = await admin.get(f"/v1/trail/{run['approval']['id']}/postmortem", params=AGENCY)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/markdown")
    text = got.text
    failing = run["batches"][1]
    evidence = failing["verdict"]["evidence"]
    assert failing["verdict"]["outcome"] == "fail"
    assert f"Batch 1 ({failing['size']} agents) failed its health gate" in text
    assert f"**{evidence['healthy']} of {evidence['sampled']} healthy**" in text
    assert f"Threshold: {evidence['threshold']:.0%} healthy" in text
    assert f"Window: {evidence['window_start']}" in text
    assert f"- Recovered (every touched agent reverted): {run['rollback']['finished_at']}" in text
    assert "Counted as **failed** in the change failure rate" in text
    assert f"- Approvers: `{run['approval']['approvers'][0]}`." in text
    assert f"policy version `{run['decision']['policy_version']}`" in text


async def test_a_deployment_that_did_not_fail_has_no_postmortem(cluster: Cluster) -> None:
    await publish_policy(cluster)
    async with orchestrator(cluster) as http:
        body = {"id": "bot-ok", "runtime": "py", "current_revision": "rev-1"}
        assert (await http.post("/v1/agents", json=body)).status_code == 201
        created = await http.post("/v1/deployments", json=plan(["bot-ok"], batch=1))
        assert created.status_code == 202, created.text
    async with cluster.client() as admin:
        got = await admin.get(f"/v1/trail/{created.json()['id']}/postmortem", params=AGENCY)
    assert got.status_code == 409, got.text
    assert got.json()["code"] == "deployment_not_failed"
    assert got.json()["status"] == "running"


async def test_a_foreign_agencys_key_finds_none_of_it(
    cluster: Cluster, rolled_back: RolledBack
) -> None:
    foreign = await create_key(cluster, "globex", "viewer")
    async with cluster.client(key=foreign) as viewer, cluster.client() as org_admin:
        for trail_id in rolled_back.ids.values():
            for client, params in ((viewer, {}), (org_admin, {"agency": "globex"})):
                got = await client.get(f"/v1/trail/{trail_id}", params=params)
                assert got.status_code == 404, got.text
                assert got.json()["code"] == "trail_not_found"
                assert got.json()["unavailable"] == []
                pm = await client.get(f"/v1/trail/{trail_id}/postmortem", params=params)
                assert pm.status_code == 404, pm.text


async def test_an_unknown_id_is_not_found(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        got = await admin.get("/v1/trail/no-such-thing", params=AGENCY)
    assert got.status_code == 404
    assert got.json()["code"] == "trail_not_found"


async def test_a_service_that_does_not_answer_marks_its_element_unavailable(
    cluster: Cluster, rolled_back: RolledBack
) -> None:
    await cluster.processes.pop("metrics_collector").stop()
    async with cluster.client() as admin:
        got = await admin.get(f"/v1/trail/{rolled_back.run['id']}", params=AGENCY)
    assert got.status_code == 200, got.text
    dora = got.json()["dora"]
    assert dora["deployment"]["state"] == "unavailable"
    assert "metrics_collector" in dora["deployment"]["reason"]
    assert dora["incidents_reason"]
    assert got.json()["deployment"]["value"] == rolled_back.trail["deployment"]["value"]


async def test_the_cli_shows_the_trail_its_json_and_the_postmortem(
    cluster: Cluster, rolled_back: RolledBack, capsys: Any
) -> None:
    from .test_approvals_cli import cortex

    run = rolled_back.run
    key, agency = cluster.admin_key, ["--agency", "acme"]
    code, human, _ = await cortex(cluster, key, ["trail", run["decision"]["id"], *agency], capsys)
    assert code == 0
    assert "(found as decision)" in human
    assert f"{run['id']}  support-bot rev-2 → production  rolled_back" in human
    code, raw, _ = await cortex(cluster, key, ["trail", run["id"], "--json", *agency], capsys)
    assert code == 0
    assert json.loads(raw)["deployment"]["value"] == rolled_back.trail["deployment"]["value"]
    code, markdown, _ = await cortex(
        cluster, key, ["trail", run["id"], "--postmortem", *agency], capsys
    )
    assert code == 0
    assert markdown.startswith("# Postmortem (draft): support-bot rev-2 in production")
    code, _, err = await cortex(cluster, key, ["trail", "no-such-id", *agency], capsys)
    assert code == 1
    assert "trail_not_found" in err


async def test_an_agent_actions_decision_and_its_approval_are_trails_of_their_own(
    cluster: Cluster,
) -> None:
    """An action's approval names the action (agent, type, resource), not one decision: the
    decision's trail is the decision, the approval's the approval, each as its route answers."""
    from .approval_workflow.test_agent_actions import POLICY, refund
    from .test_agent_path_through_gateway import authorize, reached_the_workflow

    async with cluster.client() as admin:
        put = await admin.put(
            "/v1/agencies/acme/policy", content=POLICY, headers={"Content-Type": "application/yaml"}
        )
        assert put.status_code in (200, 201), put.text
    agent = await create_key(cluster, "acme", "agent")
    asked = await authorize(cluster, agent, refund())
    assert asked["decision"] == "require_approval", asked
    decision_id, approval_id = asked["decision_id"], asked["approval"]["id"]
    await reached_the_workflow(cluster, agent, approval_id)
    async with cluster.client() as admin:
        for _ in range(100):  # the decision log is written just after the answer
            logged = await admin.get(f"/v1/decisions/{decision_id}", params=AGENCY)
            if logged.status_code == 200:
                break
            await asyncio.sleep(0.05)
        approval = (await admin.get(f"/v1/approvals/{approval_id}", params=AGENCY)).json()
        of_decision = (await admin.get(f"/v1/trail/{decision_id}", params=AGENCY)).json()
        of_approval = (await admin.get(f"/v1/trail/{approval_id}", params=AGENCY)).json()
        refused = await admin.get(f"/v1/trail/{decision_id}/postmortem", params=AGENCY)
    assert of_decision["found_as"] == "decision"
    assert of_decision["decision"]["value"] == logged.json()
    assert of_decision["decision"]["source"] == f"GET /v1/decisions/{decision_id}"
    assert of_approval["found_as"] == "approval"
    assert of_approval["approval"]["value"] == approval
    assert approval["subject"]["kind"] == "action"
    for found in (of_decision, of_approval):
        assert found["deployment"]["state"] == "none"
        assert found["dora"]["impact"] is None
    assert refused.status_code == 422
    assert refused.json()["code"] == "trail_without_deployment"
