"""The approval workflow served by uvicorn on the plugin's real PostgreSQL and NATS, called
directly with signed requests (as the gateway will)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import func, select

from approval_workflow.app import create_app
from approval_workflow.models import messaging
from approval_workflow.settings import Settings
from cortex_contracts import decode, unpack
from cortex_kit.db import Database
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, ROLES_HEADER, TEAM_HEADER
from tests.integration.conftest import Served, serve_app


def settings(database_url: str, nats_url: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "port": port,
        "database_url": database_url,
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "outbox_poll_interval_s": 0.2,
        "consumer_ack_wait_s": 5.0,
        "internal_secret": TEST_INTERNAL_SECRET,
        "timer_interval_s": 0.1,
        "wait_poll_interval_s": 0.2,
        **overrides,
    }
    return Settings(**values)


Start = Callable[..., Any]


@pytest.fixture
async def start(database_url: str, nats_url: str) -> AsyncIterator[Start]:
    """``await start(clock=..., **settings)``: one more served instance on the test's database."""
    running: list[Served] = []

    async def make(clock: Callable[[], datetime] | None = None, **overrides: Any) -> Served:
        def build(port: int) -> Any:
            cfg = settings(database_url, nats_url, port, **overrides)
            return create_app(cfg) if clock is None else create_app(cfg, clock=clock)

        served = await serve_app(build)
        running.append(served)
        return served

    yield make
    for served in reversed(running):
        if not served.task.done():
            await served.stop()


def client(
    served: Served,
    principal: str = "ci",
    roles: str | None = None,
    team: str | None = None,
    agency: str = "acme",
) -> httpx.AsyncClient:
    headers = {AGENCY_HEADER: agency, PRINCIPAL_HEADER: principal}
    if roles:
        headers[ROLES_HEADER] = roles
    if team:
        headers[TEAM_HEADER] = team
    return httpx.AsyncClient(base_url=served.url, headers=headers, auth=signed(), timeout=30)


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": {"kind": "deployment", "id": "dep-1", "input_hash": "sha256:" + "ab" * 32},
        "required_roles": ["sre"],
        "quorum": 1,
        "summary": "prompt change to 1000 agents",
        "reason": "risk above 0.7",
        "rule_ids": ["deploy.high-risk"],
        "policy_version": "org:1+agency:2",
    }
    return {**body, **overrides}


async def outbox_count(database_url: str, subject_prefix: str = "cortex.approval.") -> int:
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            statement = select(func.count()).where(
                messaging.outbox.c.subject.startswith(subject_prefix)
            )
            return int((await session.execute(statement)).scalar_one())
    finally:
        await db.dispose()


async def stream_payloads(nats_url: str, subject: str) -> list[Any]:
    """Every payload JetStream holds on ``subject`` (an ordered consumer from the start)."""
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return found
            found.append(unpack(decode(msg.data)))
    finally:
        await nc.close()
