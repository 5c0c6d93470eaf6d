"""Policy-engine events and replicas: convergence, decision/violation events, budget atomicity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import nats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cortex_contracts import (
    BudgetThresholdCrossed,
    DecisionRecorded,
    PolicyViolation,
    decode,
    unpack,
)
from cortex_kit.db import Database
from cortex_kit.migrations import upgrade_to_head
from cortex_kit.testing.internal import signed

from .conftest import Cluster, _common, serve_app
from .test_auth import create_key
from .test_policy_api import ACME, YAML, action, publish_baseline

HEADERS = {"X-Cortex-Agency": "acme", "X-Cortex-Principal": "test"}


async def stream_payloads(nats_url: str, subject: str) -> list[object]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(subject, ordered_consumer=True)
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return found
            found.append(unpack(decode(msg.data)))
    finally:
        await nc.close()


async def test_a_second_replica_converges_within_a_second(cluster: Cluster) -> None:
    from policy_engine.app import create_app
    from policy_engine.settings import Settings

    replica = await serve_app(lambda port: create_app(Settings(**_common(cluster, port))))
    first = cluster.processes["policy_engine"].url
    try:
        async with cluster.client() as admin:
            await publish_baseline(admin)
        req = {"agent_id": "a", "action": action(autonomy_level="L2")}
        async with httpx.AsyncClient(headers=HEADERS, auth=signed()) as client:
            for url in (first, replica.url):  # both replicas cache the current policy
                resp = await client.post(f"{url}/v1/authorize", json=req)
                assert resp.json()["decision"] == "allow"
            stricter = ACME.replace("ceiling: L2", "ceiling: L1")
            put = await client.put(
                f"{first}/v1/agencies/acme/policy", content=stricter, headers=YAML
            )
            assert put.status_code == 201
            started = asyncio.get_running_loop().time()
            while True:
                resp = await client.post(f"{replica.url}/v1/authorize", json=req)
                if resp.json()["decision"] == "deny":
                    break
                assert asyncio.get_running_loop().time() - started < 1.0, "not converged in 1 s"
                await asyncio.sleep(0.02)
            assert resp.json()["policy_version"] == "org:1+agency:2"
    finally:
        await replica.stop()


async def test_decisions_and_violations_are_published(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    async with cluster.client(key=agent) as client:
        denied = await client.post(
            "/v1/authorize",
            json={
                "agent_id": "rogue",
                "deployment_id": "dep-9",
                "action": action(model="gpt-5-preview"),
            },
        )
        decision_id = denied.json()["decision_id"]
    await asyncio.sleep(1.0)
    decisions = await stream_payloads(cluster.nats_url, "cortex.decision.recorded.acme")
    recorded = [d for d in decisions if isinstance(d, DecisionRecorded)]
    assert [d.decision_id for d in recorded] == [decision_id]
    assert recorded[0].effective_version == "org:1+agency:1"
    violations = await stream_payloads(cluster.nats_url, "cortex.policy.violation.acme")
    assert violations
    assert all(isinstance(v, PolicyViolation) for v in violations)
    assert {v.deployment_id for v in violations} == {"dep-9"}  # type: ignore[attr-defined]
    assert {v.agent_id for v in violations} == {"rogue"}  # type: ignore[attr-defined]
    assert 'models.deny["*-preview"]' in {v.rule_id for v in violations}  # type: ignore[attr-defined]


async def test_crossing_a_soft_threshold_emits_an_alert(cluster: Cluster) -> None:
    agent = await create_key(cluster, "acme", "agent")
    async with cluster.client() as admin:
        await publish_baseline(admin)
    async with cluster.client(key=agent) as client:
        # the agent's daily budget is 25 USD with an alert at 90 %: 23 USD crosses it
        resp = await client.post(
            "/v1/authorize", json={"agent_id": "big", "action": action(estimated_cost_usd=23.0)}
        )
        assert resp.json()["decision"] == "allow"
        assert resp.json()["budget_alerts"]
    await asyncio.sleep(1.0)
    alerts = await stream_payloads(cluster.nats_url, "cortex.policy.budget_threshold.acme")
    assert any(
        isinstance(a, BudgetThresholdCrossed) and a.agent_id == "big" and a.threshold == 0.9
        for a in alerts
    )


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    costs=st.lists(st.integers(min_value=1, max_value=9), min_size=5, max_size=40),
    limit=st.integers(min_value=5, max_value=60),
)
async def test_reservations_never_exceed_the_hard_limit(
    database_url: str, costs: list[int], limit: int
) -> None:
    """Any interleaving of concurrent reservations (two connection pools, like two replicas)."""
    from pathlib import Path

    import policy_engine
    from policy_engine.budgets import repository
    from policy_engine.budgets.repository import Counter

    replicas = [Database(database_url), Database(database_url)]
    migrations = Path(policy_engine.__path__[0]) / "migrations"
    await upgrade_to_head(replicas[0], migrations, "policy")
    agency = f"h{abs(hash((tuple(costs), limit))) % 10**9}"
    day = datetime.now(UTC).date()
    window = [Counter("", "day", day, Decimal(limit), None)]

    async def reserve(db: Database, cost: int) -> bool:
        async with db.session() as session:
            refused, _ = await repository.reserve(session, agency, window, Decimal(cost), 0)
            return not refused

    results = await asyncio.gather(
        *(reserve(replicas[i % 2], cost) for i, cost in enumerate(costs))
    )
    async with replicas[0].session() as session:
        used = await repository.usage(session, agency, "", day, day.replace(day=1))
    total = sum(c for c, ok in zip(costs, results, strict=True) if ok)
    assert total <= limit
    assert (used[0].usd if used else 0) == total
    for db in replicas:
        await db.dispose()
