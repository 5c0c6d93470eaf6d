"""A PostgreSQL outage is a 503 `upstream_unavailable` with `Retry-After`, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from cortex_kit.embedded import EmbeddedPostgres

from .conftest import Cluster
from .test_auth import create_key
from .test_policy_api import ACME, ORG, YAML, action


@contextmanager
def outage(server: EmbeddedPostgres) -> Iterator[None]:
    server.stop()
    try:
        yield
    finally:
        server.start()


def _unavailable(resp: httpx.Response) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == "upstream_unavailable"
    assert resp.json()["remediation"]
    assert int(resp.headers["retry-after"]) >= 1


async def test_a_database_outage_is_a_503_with_retry_after(
    cluster: Cluster, cortex_postgres: EmbeddedPostgres
) -> None:
    never_used = await create_key(cluster, "acme", "viewer")  # not in any key cache yet
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin, cluster.client(key=agent) as agent_client:
        assert (await admin.put("/v1/org/policy", content=ORG, headers=YAML)).status_code == 201
        put = await admin.put("/v1/agencies/acme/policy", content=ACME, headers=YAML)  # budgets
        assert put.status_code == 201, put.text
        ask = {"agent_id": "a1", "action": action()}
        warm = await agent_client.post("/v1/authorize", json=ask)
        assert warm.status_code == 200, warm.text
        with outage(cortex_postgres):
            # the gateway's own database: writes, and authentication of an uncached key
            _unavailable(await admin.post("/v1/keys", json={"agency": "acme", "role": "viewer"}))
            async with cluster.client(key=never_used) as viewer:
                _unavailable(await viewer.get("/v1/webhooks/github/secret"))
            # a service's database, relayed by the gateway with its Retry-After
            _unavailable(await admin.get("/v1/events", params={"agency": "acme"}))
            # a budget reservation cannot be made: fail closed, and say the agent may retry
            _unavailable(await agent_client.post("/v1/authorize", json=ask))
        for _ in range(100):  # and it recovers by itself once PostgreSQL is back
            resp = await admin.get("/v1/events", params={"agency": "acme"})
            if resp.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert resp.status_code == 200, resp.text
