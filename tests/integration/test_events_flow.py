"""One real flow through the pipes: gateway → outbox → NATS → inbox → metrics-collector."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from .conftest import Cluster

CHANGE = {
    "type": "change",
    "id": "c-1",
    "commit_sha": "a" * 40,
    "repo": "github.com/acme/checkout",
    "service": "checkout",
    "committed_at": "2026-11-20T10:00:00Z",
}
DEPLOY = {
    "type": "deployment",
    "id": "d-1",
    "service": "checkout",
    "environment": "production",
    "status": "succeeded",
    "started_at": "2026-11-20T11:00:00Z",
    "finished_at": "2026-11-20T11:05:00Z",
    "commit_shas": ["a" * 40],
}


async def wait_for(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    for _ in range(100):
        resp = await client.get(path, params=params)
        if resp.status_code == 200:
            return resp
        await asyncio.sleep(0.1)
    return resp


async def test_event_sent_to_gateway_is_readable_back(cluster: Cluster) -> None:
    async with cluster.client() as client:
        resp = await client.post("/v1/events", json={"agency": "acme", "events": [CHANGE, DEPLOY]})
        assert resp.status_code == 202, resp.text
        body = resp.json()
        assert body["accepted"] == 2
        assert [e["id"] for e in body["events"]] == ["c-1", "d-1"]

        got = await wait_for(client, "/v1/events/deployment/d-1", agency="acme")
        assert got.status_code == 200, got.text
        stored = got.json()
        assert stored["service"] == "checkout"
        assert stored["facts"]["commit_shas"] == ["a" * 40]
        assert stored["facts"]["status"] == "succeeded"
        listed = await client.get("/v1/events", params={"agency": "acme"})
        assert {e["event_id"] for e in listed.json()["items"]} == {"c-1", "d-1"}


async def test_resending_the_same_event_stores_it_once(cluster: Cluster) -> None:
    async with cluster.client() as client:
        for _ in range(3):
            resp = await client.post("/v1/events", json={"agency": "acme", "events": [CHANGE]})
            assert resp.status_code == 202
        await wait_for(client, "/v1/events/change/c-1", agency="acme")
        await asyncio.sleep(0.5)
        listed = await client.get("/v1/events", params={"agency": "acme"})
        assert [e["event_id"] for e in listed.json()["items"]] == ["c-1"]


async def test_invalid_event_is_rejected_with_problem_details(cluster: Cluster) -> None:
    bad = {**DEPLOY, "status": "exploded"}
    async with cluster.client() as client:
        resp = await client.post("/v1/events", json={"agency": "acme", "events": [bad]})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["code"] == "invalid_request"
    assert problem["remediation"]
    assert any("status" in e["loc"] for e in problem["errors"])


async def test_deployment_finishing_before_it_starts_is_rejected(cluster: Cluster) -> None:
    bad = {**DEPLOY, "finished_at": "2026-11-20T10:00:00Z"}
    async with cluster.client() as client:
        resp = await client.post("/v1/events", json={"agency": "acme", "events": [bad]})
        assert resp.status_code == 422
        assert resp.json()["code"] == "invalid_event"
        # nothing half-written: the valid event of a rejected batch is not stored either
        resp = await client.post("/v1/events", json={"agency": "acme", "events": [CHANGE, bad]})
        assert resp.status_code == 422
        await asyncio.sleep(1.0)
        listed = await client.get("/v1/events", params={"agency": "acme"})
        assert listed.json()["items"] == []


@pytest.mark.parametrize(
    ("bad", "loc"),
    [
        ({**CHANGE, "id": "x\u0000y"}, ["change", "id"]),
        ({**DEPLOY, "labels": ["ok", "b\u0000d"]}, ["deployment", "labels", "1"]),
        ({**DEPLOY, "rollback_of": "d-\u0001"}, ["deployment", "rollback_of"]),
        ({**CHANGE, "author": "ana\u0000"}, ["change", "author"]),
    ],
    # (Unpaired surrogates were refused already, by the length limits: tests/unit/gateway.)
    ids=["nul-in-id", "nul-in-label", "control-in-reference", "nul-in-author"],
)
async def test_a_batch_with_a_string_the_store_cannot_hold_is_refused_whole(
    cluster: Cluster, bad: dict[str, Any], loc: list[str]
) -> None:
    events = [{**DEPLOY, "id": f"d-{n}"} for n in range(100)]
    events.insert(57, bad)
    # As the JSON text a client sends (escapes included), not re-encoded by httpx.
    body = json.dumps({"agency": "acme", "events": events})
    headers = {"Content-Type": "application/json"}
    async with cluster.client() as client:
        resp = await client.post("/v1/events", content=body, headers=headers)
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        problem = resp.json()
        assert problem["code"] == "invalid_request"
        assert problem["remediation"]
        assert [e["loc"] for e in problem["errors"]] == [["body", "events", "57", *loc]]
        # All or nothing: none of the 100 valid events was staged. The next request's event
        # arrives after anything the refused one could have staged.
        sentinel = {"agency": "acme", "events": [CHANGE]}
        assert (await client.post("/v1/events", json=sentinel)).status_code == 202
        await wait_for(client, "/v1/events/change/c-1", agency="acme")
        listed = await client.get("/v1/events", params={"agency": "acme", "limit": 1000})
        assert [e["event_id"] for e in listed.json()["items"]] == ["c-1"]


async def test_unknown_event_is_404_problem(cluster: Cluster) -> None:
    async with cluster.client() as client:
        resp = await client.get("/v1/events/change/nope", params={"agency": "acme"})
    assert resp.status_code == 404
    assert resp.json()["code"] == "event_not_found"


async def test_every_process_is_ready_and_exports_metrics(cluster: Cluster) -> None:
    kit_checks = {"database": "ok", "nats": "ok", "migrations": "ok"}
    own_checks = {"metrics_collector": {"dora_cache": "ok"}}
    async with httpx.AsyncClient() as client:
        for name, served in cluster.processes.items():
            ready = await client.get(f"{served.url}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == kit_checks | own_checks.get(name, {})
            metrics = await client.get(f"{served.url}/metrics")
            assert "cortex_http_requests_total" in metrics.text


def _change(n: int) -> dict[str, Any]:
    sha = f"{n:040x}"
    return {**CHANGE, "id": f"bc-{n}", "commit_sha": sha}


async def test_a_large_batch_travels_in_batch_envelopes_and_every_event_is_stored(
    cluster: Cluster,
) -> None:
    events = [_change(n) for n in range(1000)]
    async with cluster.client() as client:
        resp = await client.post("/v1/events", json={"agency": "acme", "events": events})
        assert resp.status_code == 202, resp.text
        accepted = resp.json()["events"]
        # 1,000 events → two DeliveryBatch envelopes of 500; each event has its version id.
        envelopes = {e["envelope_id"].rsplit("/", 1)[0] for e in accepted}
        assert len(envelopes) == 2
        assert [int(e["envelope_id"].rsplit("/", 1)[1]) for e in accepted[:3]] == [0, 1, 2]
        last = await wait_for(client, "/v1/events/change/bc-999", agency="acme")
        assert last.status_code == 200, last.text
        assert last.json()["facts"]["commit_sha"] == f"{999:040x}"
        listed = await client.get("/v1/events", params={"agency": "acme", "limit": 1000})
        stored = {e["event_id"] for e in listed.json()["items"]}
        assert stored == {f"bc-{n}" for n in range(1000)}
        # The same batch again: every event is a second version of the same fact, not a new one.
        again = await client.post("/v1/events", json={"agency": "acme", "events": events[:2]})
        assert again.status_code == 202
        for _ in range(100):
            got = (await client.get("/v1/events/change/bc-0", params={"agency": "acme"})).json()
            if got["versions"] == 2:
                break
            await asyncio.sleep(0.1)
        assert got["versions"] == 2
        listed = await client.get("/v1/events", params={"agency": "acme", "limit": 1000})
        assert len(listed.json()["items"]) == 1000
