"""Preflight against the real services: the policy engine, approval workflow and metrics
collector of the cluster, a real rollout orchestrator, and a gateway that knows its URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER
from gateway.app import create_app as gateway_app
from rollout_orchestrator.app import create_app as orchestrator_app
from rollout_orchestrator.settings import Settings as OrchestratorSettings
from tests.integration.conftest import (
    ADMIN_KEY,
    Cluster,
    Served,
    gateway_settings,
    replace_process,
    serve_app,
    start_cluster,
)

ORCHESTRATOR = "rollout_orchestrator"


def orchestrator(cluster: Cluster, port: int) -> Any:
    return orchestrator_app(
        OrchestratorSettings(
            port=port,
            database_url=cluster.database_url,
            nats_url=cluster.nats_url,
            internal_secret=TEST_INTERNAL_SECRET,
            policy_engine_url=cluster.processes["policy_engine"].url,
            log_json=False,
            log_level="WARNING",
            reconcile_loop=False,
            outbox_poll_interval_s=0.2,
            consumer_ack_wait_s=5.0,
        )
    )


async def start_gateway(cluster: Cluster, **overrides: Any) -> Served:
    """A gateway of ``cluster`` whose orchestrator is the cluster's, with ``overrides``."""
    values = {"rollout_orchestrator_url": cluster.processes[ORCHESTRATOR].url, **overrides}
    return await serve_app(lambda port: gateway_app(gateway_settings(cluster, port, **values)))


@dataclass
class Preflight:
    cluster: Cluster

    def gateway(self) -> httpx.AsyncClient:
        return self.cluster.client(ADMIN_KEY)

    def service(self, name: str, agency: str) -> httpx.AsyncClient:
        """A service called as the gateway calls it (signed, the agency and a principal)."""
        headers = {AGENCY_HEADER: agency, PRINCIPAL_HEADER: "key-ci"}
        return httpx.AsyncClient(
            base_url=self.cluster.processes[name].url, headers=headers, auth=signed(), timeout=30
        )


@pytest.fixture
async def preflight(migrated_database_url: str, nats_url: str) -> AsyncIterator[Preflight]:
    cluster = await start_cluster(migrated_database_url, nats_url, gateway=False)
    try:
        await replace_process(cluster, ORCHESTRATOR, lambda port: orchestrator(cluster, port))
        cluster.processes["gateway"] = await start_gateway(cluster)
        yield Preflight(cluster)
    finally:
        await cluster.stop()
