"""Real processes-in-a-loop: services served by uvicorn on free ports, on real NATS + PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cortex_kit.embedded import free_port
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, TEST_SECRETS_KEY

ADMIN_KEY = "cvc_0123456789ab_" + "A" * 43


@dataclass
class Served:
    app: FastAPI
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def serve_app(make_app: Callable[[int], FastAPI]) -> Served:
    port = free_port()
    app = make_app(port)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    else:
        raise TimeoutError("server did not start")
    return Served(app, f"http://127.0.0.1:{port}", server, task)


@dataclass
class Cluster:
    database_url: str
    nats_url: str
    processes: dict[str, Served] = field(default_factory=dict)
    admin_key: str = ADMIN_KEY

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].url

    def client(self, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.gateway_url, headers=headers, timeout=30)

    async def stop(self) -> None:
        for served in reversed(list(self.processes.values())):
            await served.stop()


def _common(cluster: Cluster, port: int) -> dict[str, Any]:
    return {
        "port": port,
        "database_url": cluster.database_url,
        "nats_url": cluster.nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "outbox_poll_interval_s": 0.2,
        "consumer_ack_wait_s": 5.0,
        "internal_secret": TEST_INTERNAL_SECRET,
        "secrets_key": TEST_SECRETS_KEY,  # the gateway's; the services ignore it
    }


async def start_cluster(database_url: str, nats_url: str, *, gateway: bool = True) -> Cluster:
    from gateway.app import create_app as gateway_app
    from gateway.settings import Settings as GatewaySettings
    from metrics_collector.app import create_app as metrics_app
    from metrics_collector.settings import Settings as MetricsSettings
    from policy_engine.app import create_app as policy_app
    from policy_engine.settings import Settings as PolicySettings

    cluster = Cluster(database_url, nats_url)
    cluster.processes["metrics_collector"] = await serve_app(
        lambda port: metrics_app(MetricsSettings(**_common(cluster, port)))
    )
    cluster.processes["policy_engine"] = await serve_app(
        lambda port: policy_app(PolicySettings(**_common(cluster, port), decision_log_delay_s=0.02))
    )
    if gateway:
        cluster.processes["gateway"] = await serve_app(
            lambda port: gateway_app(
                GatewaySettings(
                    **_common(cluster, port),
                    metrics_collector_url=cluster.processes["metrics_collector"].url,
                    policy_engine_url=cluster.processes["policy_engine"].url,
                    bootstrap_admin_key=ADMIN_KEY,
                )
            )
        )
    return cluster


@pytest.fixture
async def cluster(database_url: str, nats_url: str) -> AsyncIterator[Cluster]:
    running = await start_cluster(database_url, nats_url)
    try:
        yield running
    finally:
        await running.stop()
