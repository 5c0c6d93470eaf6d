"""Gateways alone (no service behind them) on one real database: what the gateway owns — keys,
its audit chain, rate limits, idempotency — across replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, TEST_SECRETS_KEY

from .conftest import ADMIN_KEY, Served, serve_app

# Nothing listens there: a relayed call answers 503 upstream_unavailable.
NO_SERVICE = "http://127.0.0.1:9"


def replica_settings(database_url: str, nats_url: str, port: int, **overrides: Any) -> Any:
    from gateway.settings import Settings

    values: dict[str, Any] = {
        "port": port,
        "database_url": database_url,
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "internal_secret": TEST_INTERNAL_SECRET,
        "secrets_key": TEST_SECRETS_KEY,
        "bootstrap_admin_key": ADMIN_KEY,
        "policy_engine_url": NO_SERVICE,
        "metrics_collector_url": NO_SERVICE,
        "approval_workflow_url": NO_SERVICE,
        "rollout_orchestrator_url": NO_SERVICE,
        "analytics_url": NO_SERVICE,
        "upstream_timeout_s": 2.0,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def replicas(
    database_url: str, nats_url: str, count: int = 2, **overrides: Any
) -> AsyncIterator[list[Served]]:
    """``count`` gateway processes-in-a-loop on one database, started one after the other (the
    first migrates and bootstraps the admin key)."""
    from gateway.app import create_app

    def make(port: int) -> Any:
        return create_app(replica_settings(database_url, nats_url, port, **overrides))

    served: list[Served] = []
    try:
        for _ in range(count):
            served.append(await serve_app(make))  # noqa: PERF401 (each kept as it starts)
        yield served
    finally:
        for one in served:
            await one.stop()


def client(served: Served, key: str | None = ADMIN_KEY, **headers: str) -> httpx.AsyncClient:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=served.url, headers={**auth, **headers}, timeout=30)


async def sql(database_url: str, statement: str, *args: Any) -> Any:
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetch(statement, *args)
    finally:
        await conn.close()


async def create_key(served: Served, agency: str, role: str) -> tuple[str, str]:
    """A new key's id and token, made by the bootstrap admin."""
    async with client(served) as admin:
        resp = await admin.post("/v1/keys", json={"agency": agency, "role": role, "name": "t"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"]), str(resp.json()["key"])
