"""Helpers of the deployment tests: a fake policy engine at the HTTP boundary, plans, a fleet,
and reading the outbox."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from cortex_contracts import decode, unpack
from cortex_kit.db import Database
from rollout_orchestrator.deployments.policy import PolicyClient
from rollout_orchestrator.models import messaging, transitions


@dataclass
class FakePolicy:
    """The policy engine's ``POST /v1/deployments/evaluate``: answers ``verdict`` (or fails)."""

    verdict: str = "pass"
    reasons: list[dict[str, Any]] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    fail_with: Exception | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.fail_with is not None:
            raise self.fail_with
        assert request.url.path == "/v1/deployments/evaluate"
        assert "X-Cortex-Signature" in request.headers
        self.requests.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "verdict": self.verdict,
                "risk_score": 0.3,
                "risk_factors": {},
                "reasons": self.reasons,
                "limits": None,
                "approval": self.approval,
                "policy_version": "org:1",
                "evaluated_at": datetime.now(UTC).isoformat(),
            },
        )

    def client(self) -> PolicyClient:
        from cortex_kit.testing.internal import signed

        return PolicyClient(
            httpx.AsyncClient(
                base_url="http://policy-engine",
                transport=httpx.MockTransport(self.handle),
                auth=signed(),
            )
        )


def plan(
    ids: list[str] | None = None,
    *,
    selector: dict[str, str] | None = None,
    batch: int = 2,
    revision: str = "rev-2",
    gate: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    targets: dict[str, Any] = {"ids": ids} if ids is not None else {"selector": selector or {}}
    body: dict[str, Any] = {
        "service": "support-bot",
        "environment": "production",
        "targets": targets,
        "change": {"revision": revision, "prompt_revision": "p-7"},
        "strategy": {
            "max_batch_size": batch,
            "health_gate": {"observation_s": 30, "min_sample": 1, **(gate or {})},
        },
    }
    return {**body, **extra}


async def register(http: httpx.AsyncClient, count: int, revision: str = "rev-1") -> list[str]:
    ids = [f"agent-{n:03d}" for n in range(count)]
    for agent_id in ids:
        response = await http.post(
            "/v1/agents",
            json={
                "id": agent_id,
                "labels": {"team": "payments"},
                "runtime": "python",
                "current_revision": revision,
            },
        )
        assert response.status_code == 201, response.text
    return ids


async def beat(
    http: httpx.AsyncClient, agent_ids: list[str], revision: str, healthy: bool = True
) -> None:
    for agent_id in agent_ids:
        response = await http.post(
            f"/v1/agents/{agent_id}/heartbeat",
            json={"applied_revision": revision, "healthy": healthy},
        )
        assert response.status_code == 200, response.text


async def outbox_payloads(database_url: str, prefix: str = "cortex.deploy.") -> list[Any]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            statement = (
                select(messaging.outbox.c.data)
                .where(messaging.outbox.c.subject.startswith(prefix))
                .order_by(messaging.outbox.c.seq)
            )
            rows = (await session.execute(statement)).scalars().all()
        return [unpack(decode(bytes(row))) for row in rows]
    finally:
        await db.dispose()


async def timeline_rows(database_url: str) -> list[Any]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            statement = select(transitions).order_by(transitions.c.id)
            return list((await session.execute(statement)).all())
    finally:
        await db.dispose()


async def simulate_fleet(
    urls: list[str], agent_ids: list[str], stop: asyncio.Event, *, period_s: float = 0.1
) -> None:
    """Healthy agents: each applies its desired revision and heartbeats it, round the replicas."""
    from cortex_kit.testing.internal import signed
    from cortex_kit.web import AGENCY_HEADER

    clients = [
        httpx.AsyncClient(base_url=u, headers={AGENCY_HEADER: "acme"}, auth=signed(), timeout=10)
        for u in urls
    ]
    turn = 0
    try:
        while not stop.is_set():
            for agent_id in agent_ids:
                http = clients[turn % len(clients)]
                turn += 1
                try:
                    got = await http.get(f"/v1/agents/{agent_id}/desired")
                    revision = got.json()["desired_revision"]
                    await http.post(
                        f"/v1/agents/{agent_id}/heartbeat",
                        json={"applied_revision": revision, "healthy": True},
                    )
                except (httpx.TransportError, KeyError, ValueError):
                    pass  # a replica going away: the next one answers
            await asyncio.sleep(period_s)
    finally:
        for http in clients:
            await http.aclose()
