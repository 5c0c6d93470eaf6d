"""A success answer is sent only after its transaction committed; a failed commit is a 503.

Commit time is controlled with real PostgreSQL deferred constraint triggers, which run at
COMMIT: one that sleeps shows whether the answer waited for the commit, one that raises
makes the commit itself fail (as a serialization conflict or a server restart would).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from gateway.webhooks.signatures import github_signature

from .conftest import Cluster
from .test_events_flow import CHANGE

SECRET = "whsec-0123456789abcdef"
SLOW = "PERFORM pg_sleep(0.4)"
FAIL = "RAISE EXCEPTION 'forced commit failure' USING ERRCODE = 'serialization_failure'"


def _dsn(cluster: Cluster) -> str:
    return cluster.database_url.replace("+asyncpg", "")


@asynccontextmanager
async def at_commit(cluster: Cluster, table: str, action: str) -> AsyncIterator[None]:
    """Run ``action`` (PL/pgSQL) when a transaction that wrote ``table`` commits."""
    conn = await asyncpg.connect(_dsn(cluster))
    try:
        await conn.execute(
            f"CREATE FUNCTION public.at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {action}; RETURN NULL; END $$"
        )
        await conn.execute(
            f"CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT OR UPDATE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.at_commit()"
        )
        yield
    finally:
        await conn.execute(f"DROP TRIGGER IF EXISTS at_commit ON {table}")
        await conn.execute("DROP FUNCTION IF EXISTS public.at_commit()")
        await conn.close()


async def _count(cluster: Cluster, sql: str) -> int:
    conn = await asyncpg.connect(_dsn(cluster))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def _put_secret(client: httpx.AsyncClient, secret: str = SECRET) -> httpx.Response:
    return await client.put("/v1/webhooks/github/secret", json={"agency": "acme", "secret": secret})


async def test_a_secret_is_committed_before_its_200(cluster: Cluster) -> None:
    async with cluster.client() as admin, at_commit(cluster, "gateway.webhook_secrets", SLOW):
        assert (await _put_secret(admin)).status_code == 200
        # read on another connection the instant the answer arrived
        assert await _count(cluster, "SELECT count(*) FROM gateway.webhook_secrets") == 1


async def test_a_written_secret_is_seen_by_the_next_request_100_of_100(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        for i in range(100):
            assert (await _put_secret(admin, f"{SECRET}-{i}")).status_code == 200
            status = await admin.get("/v1/webhooks/github/secret", params={"agency": "acme"})
            assert status.json()["configured"] is True
            assert (await admin.delete("/v1/webhooks/github/secret?agency=acme")).status_code == 204


async def test_a_created_key_works_at_once_100_of_100(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        for _ in range(100):
            created = await admin.post("/v1/keys", json={"agency": "acme", "role": "viewer"})
            assert created.status_code == 201, created.text
            async with cluster.client(key=created.json()["key"]) as viewer:
                resp = await viewer.get("/v1/webhooks/github/secret")
                assert resp.status_code == 200, resp.text


async def test_a_key_whose_commit_is_slow_is_usable_when_answered(cluster: Cluster) -> None:
    async with cluster.client() as admin, at_commit(cluster, "gateway.api_keys", SLOW):
        created = await admin.post("/v1/keys", json={"agency": "acme", "role": "viewer"})
        assert created.status_code == 201
        async with cluster.client(key=created.json()["key"]) as viewer:
            resp = await viewer.get("/v1/webhooks/github/secret")
    assert resp.status_code == 200, resp.text


async def test_a_key_whose_commit_fails_is_a_503_and_not_stored(cluster: Cluster) -> None:
    before = await _count(cluster, "SELECT count(*) FROM gateway.api_keys")
    async with cluster.client() as admin, at_commit(cluster, "gateway.api_keys", FAIL):
        resp = await admin.post("/v1/keys", json={"agency": "acme", "role": "deployer"})
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == "upstream_unavailable"
    assert int(resp.headers["retry-after"]) >= 1
    assert "key" not in resp.json()
    assert await _count(cluster, "SELECT count(*) FROM gateway.api_keys") == before


async def test_events_whose_commit_fails_are_a_503_and_not_published(cluster: Cluster) -> None:
    async with cluster.client() as admin, at_commit(cluster, "gateway.outbox", FAIL):
        resp = await admin.post("/v1/events", json={"agency": "acme", "events": [CHANGE]})
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "upstream_unavailable"
    assert await _count(cluster, "SELECT count(*) FROM gateway.outbox") == 0


async def test_a_webhook_whose_commit_fails_is_a_503(cluster: Cluster) -> None:
    push = {
        "ref": "refs/heads/main",
        "repository": {"name": "checkout", "full_name": "acme/checkout"},
        "commits": [{"id": "c" * 40, "timestamp": "2026-11-20T10:00:00Z", "author": {}}],
    }
    body = json.dumps(push).encode()
    headers = {
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(SECRET, body),
    }
    async with cluster.client() as admin:
        assert (await _put_secret(admin)).status_code == 200
        async with at_commit(cluster, "gateway.outbox", FAIL):
            resp = await admin.post(
                "/v1/webhooks/github?agency=acme", content=body, headers=headers
            )
    assert resp.status_code == 503, resp.text
    assert await _count(cluster, "SELECT count(*) FROM gateway.outbox") == 0


async def test_a_key_created_on_one_gateway_works_at_once_on_another(cluster: Cluster) -> None:
    from gateway.app import create_app
    from gateway.settings import Settings

    from .conftest import _common, serve_app

    second = await serve_app(
        lambda port: create_app(
            Settings(
                **_common(cluster, port),
                policy_engine_url=cluster.processes["policy_engine"].url,
                metrics_collector_url=cluster.processes["metrics_collector"].url,
            )
        )
    )
    try:
        async with cluster.client() as admin:
            for _ in range(50):
                created = await admin.post("/v1/keys", json={"agency": "acme", "role": "viewer"})
                assert created.status_code == 201
                async with httpx.AsyncClient(
                    base_url=second.url,
                    headers={"Authorization": f"Bearer {created.json()['key']}"},
                ) as replica:
                    resp = await replica.get("/v1/webhooks/github/secret")
                assert resp.status_code == 200, resp.text
    finally:
        await second.stop()
