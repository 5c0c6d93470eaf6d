"""The rollout orchestrator served by uvicorn on the plugin's real PostgreSQL and NATS, called
directly with signed requests (as the gateway will)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER
from rollout_orchestrator.app import create_app
from rollout_orchestrator.deployments.policy import PolicyClient
from rollout_orchestrator.settings import Settings
from tests.integration.conftest import Served, serve_app

Start = Callable[..., Any]


@pytest.fixture
async def start(migrated_database_url: str, nats_url: str) -> AsyncIterator[Start]:
    """``await start(clock=..., **settings)``: one served instance on the test's database."""
    running: list[Served] = []

    async def make(
        clock: Callable[[], datetime] | None = None,
        policy: PolicyClient | None = None,
        **overrides: Any,
    ) -> Served:
        def build(port: int) -> Any:
            values: dict[str, Any] = {
                "port": port,
                "database_url": migrated_database_url,
                "nats_url": nats_url,
                "log_json": False,
                "log_level": "WARNING",
                "internal_secret": TEST_INTERNAL_SECRET,
                "outbox_poll_interval_s": 0.2,
                "consumer_ack_wait_s": 5.0,
                **overrides,
            }
            cfg = Settings(**values)
            if clock is None:
                return create_app(cfg, policy=policy)
            return create_app(cfg, clock=clock, policy=policy)

        served = await serve_app(build)
        running.append(served)
        return served

    yield make
    for served in reversed(running):
        if not served.task.done():
            await served.stop()


def client(served: Served, agency: str = "acme") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=served.url, headers={AGENCY_HEADER: agency}, auth=signed(), timeout=60
    )


def agent_body(agent_id: str = "agent-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": agent_id,
        "labels": {"team": "payments", "tier": "canary"},
        "runtime": "python-3.12",
        "current_revision": "rev-1",
    }
    return {**body, **overrides}
