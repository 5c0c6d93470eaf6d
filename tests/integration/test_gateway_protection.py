"""Per-key rate limits and Idempotency-Key across two gateway replicas on one database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from cortex_kit.errors import PROBLEM_JSON

from .conftest import ADMIN_KEY, Cluster, gateway_settings, serve_app
from .gateway_replicas import client, create_key, replicas, sql
from .test_approvals_gateway import request_body

# The bootstrap admin creates the keys under test: it gets a limit it never reaches.
ADMIN_UNLIMITED = {"0123456789ab": {"per_s": 1000, "burst": 1000}}
SLOW = {"rate_limit_per_s": 0.01, "rate_limit_burst": 4, "rate_limit_overrides": ADMIN_UNLIMITED}
NEW_KEY = {"agency": "acme", "role": "viewer", "name": "ci"}


async def _keys_in(database_url: str, name: str) -> int:
    rows = await sql(
        database_url, "SELECT count(*) AS n FROM gateway.api_keys WHERE name = $1", name
    )
    return int(rows[0]["n"])


async def test_the_burst_is_shared_by_two_replicas(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=2, **SLOW) as gateways:
        _, viewer = await create_key(gateways[0], "acme", "viewer")
        clients = [client(gw, key=viewer) for gw in gateways]
        try:
            answers = [await clients[i % 2].get("/v1/audit") for i in range(10)]
            # another key has a bucket of its own
            _, other = await create_key(gateways[1], "acme", "viewer")
            async with client(gateways[1], key=other) as fresh:
                assert (await fresh.get("/v1/audit")).status_code == 200
        finally:
            for one in clients:
                await one.aclose()
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 6
    refused = answers[-1]
    assert refused.headers["content-type"].startswith(PROBLEM_JSON)
    problem = refused.json()
    assert problem["code"] == "rate_limited"
    assert problem["remediation"]
    assert (problem["limit_per_s"], problem["burst"]) == (0.01, 4)
    assert int(refused.headers["retry-after"]) >= 1


async def test_an_unknown_key_is_not_limited_but_refused_by_its_route(
    migrated_database_url: str, nats_url: str
) -> None:
    async with (
        replicas(migrated_database_url, nats_url, count=1, **SLOW) as (gw,),
        client(gw, key="cvc_ffffffffffff_" + "A" * 43) as stranger,
    ):
        answers = [await stranger.get("/v1/audit") for _ in range(6)]
    assert {a.status_code for a in answers} == {401}


async def test_a_retry_on_the_other_replica_gets_the_first_answer(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=2) as (one, two):
        headers = {"Idempotency-Key": "create-ci-key-1"}
        async with client(one) as first, client(two) as second:
            created = await first.post("/v1/keys", json=NEW_KEY, headers=headers)
            replayed = await second.post("/v1/keys", json=NEW_KEY, headers=headers)
            other_body = await second.post(
                "/v1/keys", json={**NEW_KEY, "role": "admin"}, headers=headers
            )
        assert created.status_code == 201
        assert "idempotent-replayed" not in created.headers
        assert replayed.status_code == 201
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.json() == created.json()
        assert replayed.headers["content-type"] == created.headers["content-type"]
        assert other_body.status_code == 422
        assert other_body.json()["code"] == "idempotency_key_reused"
        assert await _keys_in(migrated_database_url, "ci") == 1


async def test_concurrent_duplicates_run_once(migrated_database_url: str, nats_url: str) -> None:
    async with replicas(migrated_database_url, nats_url, count=2) as gateways:
        clients = [client(gw, **{"Idempotency-Key": "burst-1"}) for gw in gateways]
        try:
            answers = await asyncio.gather(
                *(clients[i % 2].post("/v1/keys", json=NEW_KEY) for i in range(12))
            )
        finally:
            for one in clients:
                await one.aclose()
        assert {a.status_code for a in answers} <= {201, 409}
        assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
        assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
        assert await _keys_in(migrated_database_url, "ci") == 1


async def test_keys_are_per_api_key(migrated_database_url: str, nats_url: str) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,):
        _, acme_admin = await create_key(gw, "acme", "admin")
        headers = {"Idempotency-Key": "same-key"}
        async with client(gw) as org, client(gw, key=acme_admin) as agency:
            a = await org.post("/v1/keys", json=NEW_KEY, headers=headers)
            b = await agency.post("/v1/keys", json=NEW_KEY, headers=headers)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


async def test_a_failed_request_does_not_use_up_its_key(
    migrated_database_url: str, nats_url: str
) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,), client(gw) as admin:
        headers = {"Idempotency-Key": "fix-and-retry"}
        wrong = await admin.post("/v1/keys", json={"agency": "acme"}, headers=headers)
        fixed = await admin.post("/v1/keys", json=NEW_KEY, headers=headers)
    assert wrong.status_code == 422
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "naïve"], ids=repr)
async def test_a_malformed_key_is_422(migrated_database_url: str, nats_url: str, key: str) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,), client(gw) as admin:
        resp = await admin.post("/v1/keys", json=NEW_KEY, headers={"Idempotency-Key": key.encode()})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    assert resp.json()["code"] == "invalid_idempotency_key"
    assert resp.json()["remediation"]
    assert await _keys_in(migrated_database_url, "ci") == 0


async def test_an_expired_key_runs_again(migrated_database_url: str, nats_url: str) -> None:
    async with replicas(migrated_database_url, nats_url, count=1) as (gw,), client(gw) as admin:
        headers = {"Idempotency-Key": "old"}
        first = await admin.post("/v1/keys", json=NEW_KEY, headers=headers)
        await sql(
            migrated_database_url,
            "UPDATE gateway.idempotency_keys SET expires_at = now() - interval '1 second'",
        )
        again = await admin.post("/v1/keys", json=NEW_KEY, headers=headers)
    assert first.json()["id"] != again.json()["id"]


async def test_a_relayed_creation_is_replayed_from_the_gateway(cluster: Cluster) -> None:
    second = await serve_app(lambda port: _gateway(cluster, port))
    try:
        async with cluster.client() as admin:
            made = await admin.post("/v1/keys", json={"agency": "acme", "role": "deployer"})
        key = made.json()["key"]
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "ask-once"}
        async with (
            httpx.AsyncClient(base_url=cluster.gateway_url, headers=headers) as one,
            httpx.AsyncClient(base_url=second.url, headers=headers) as two,
        ):
            asked = await one.post("/v1/approvals", json=request_body())
            again = await two.post("/v1/approvals", json=request_body())
            listed = await one.get("/v1/approvals")
    finally:
        await second.stop()
    assert asked.status_code == 201, asked.text
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == asked.json()
    assert [a["id"] for a in listed.json()["items"]] == [asked.json()["id"]]


def _gateway(cluster: Cluster, port: int) -> Any:
    from gateway.app import create_app

    return create_app(gateway_settings(cluster, port))


async def test_the_admin_key_is_limited_like_any_other(
    migrated_database_url: str, nats_url: str
) -> None:
    limits = {"rate_limit_per_s": 0.01, "rate_limit_burst": 2}
    async with (
        replicas(migrated_database_url, nats_url, count=1, **limits) as (gw,),
        client(gw, key=ADMIN_KEY) as admin,
    ):
        answers = [(await admin.get("/v1/keys")).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
