"""Real processes-in-a-loop: services served by uvicorn on free ports, on real NATS + PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cortex_kit.db import Database
from cortex_kit.embedded import EmbeddedPostgres, free_port
from cortex_kit.migrations import upgrade_to_head
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


async def replace_process(
    cluster: Cluster, name: str, make_app: Callable[[int], FastAPI]
) -> Served:
    """Serve ``name`` from ``make_app`` (a test's own settings) instead of the cluster's: the
    one it replaces is stopped first, so none is left running after the test."""
    old = cluster.processes.pop(name, None)
    if old is not None:
        await old.stop()
    cluster.processes[name] = await serve_app(make_app)
    return cluster.processes[name]


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
        # Together: each uvicorn server notices `should_exit` on its own 0.1 s tick.
        await asyncio.gather(*(served.stop() for served in self.processes.values()))


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


def gateway_settings(cluster: Cluster, port: int, **overrides: Any) -> Any:
    """The gateway's settings for ``cluster``: its services' URLs, the bootstrap admin key."""
    from gateway.settings import Settings as GatewaySettings

    values: dict[str, Any] = {
        **_common(cluster, port),
        "metrics_collector_url": cluster.processes["metrics_collector"].url,
        "policy_engine_url": cluster.processes["policy_engine"].url,
        "approval_workflow_url": cluster.processes["approval_workflow"].url,
        "rollout_orchestrator_url": cluster.processes["rollout_orchestrator"].url,
        "bootstrap_admin_key": ADMIN_KEY,
        **overrides,
    }
    return GatewaySettings(**values)


async def start_cluster(database_url: str, nats_url: str, *, gateway: bool = True) -> Cluster:
    from approval_workflow.app import create_app as approval_app
    from approval_workflow.settings import Settings as ApprovalSettings
    from gateway.app import create_app as gateway_app
    from metrics_collector.app import create_app as metrics_app
    from metrics_collector.settings import Settings as MetricsSettings
    from policy_engine.app import create_app as policy_app
    from policy_engine.settings import Settings as PolicySettings
    from rollout_orchestrator.app import create_app as rollout_app
    from rollout_orchestrator.settings import Settings as RolloutSettings

    cluster = Cluster(database_url, nats_url)
    cluster.processes["metrics_collector"] = await serve_app(
        lambda port: metrics_app(MetricsSettings(**_common(cluster, port)))
    )
    cluster.processes["approval_workflow"] = await serve_app(
        lambda port: approval_app(
            ApprovalSettings(
                **_common(cluster, port), timer_interval_s=0.2, wait_poll_interval_s=0.5
            )
        )
    )
    cluster.processes["policy_engine"] = await serve_app(
        lambda port: policy_app(
            PolicySettings(
                **_common(cluster, port),
                decision_log_delay_s=0.02,
                approval_workflow_url=cluster.processes["approval_workflow"].url,
            )
        )
    )
    cluster.processes["rollout_orchestrator"] = await serve_app(
        lambda port: rollout_app(
            RolloutSettings(
                **_common(cluster, port),
                policy_engine_url=cluster.processes["policy_engine"].url,
            )
        )
    )
    if gateway:
        cluster.processes["gateway"] = await serve_app(
            lambda port: gateway_app(gateway_settings(cluster, port))
        )
    return cluster


def _migrations() -> list[tuple[Path, str]]:
    """(migrations directory, schema) of every process, as each runs them at start."""
    import approval_workflow
    import gateway
    import metrics_collector
    import policy_engine
    import rollout_orchestrator
    from approval_workflow.settings import Settings as ApprovalSettings
    from gateway.settings import Settings as GatewaySettings
    from metrics_collector.settings import Settings as MetricsSettings
    from policy_engine.settings import Settings as PolicySettings
    from rollout_orchestrator.settings import Settings as RolloutSettings

    packages = {
        gateway: GatewaySettings,
        policy_engine: PolicySettings,
        metrics_collector: MetricsSettings,
        approval_workflow: ApprovalSettings,
        rollout_orchestrator: RolloutSettings,
    }
    return [
        (Path(package.__file__).parent / "migrations", settings.model_fields["schema_name"].default)
        for package, settings in packages.items()
    ]


@pytest.fixture(scope="session")
async def cortex_database_template(cortex_postgres: EmbeddedPostgres) -> str:
    """Every process's schema at head, built once; `migrated_database_url` copies it."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    cortex_postgres.ensure_database(name)
    db = Database(cortex_postgres.url(name), pool_size=1)
    try:
        for migrations_dir, schema in _migrations():
            await upgrade_to_head(db, migrations_dir, schema)
    finally:
        await db.dispose()
    return name


@pytest.fixture
async def cluster(migrated_database_url: str, nats_url: str) -> AsyncIterator[Cluster]:
    running = await start_cluster(migrated_database_url, nats_url)
    try:
        yield running
    finally:
        await running.stop()
