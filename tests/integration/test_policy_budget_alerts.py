"""Budget alert thresholds under concurrency, on real PostgreSQL: each crossing once, from the
reservation's own totals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cortex_contracts import BudgetThresholdCrossed, decode, unpack
from cortex_kit.batching import BatchWriter
from cortex_kit.db import Database
from cortex_kit.migrations import upgrade_to_head
from policy_engine.budgets import repository
from policy_engine.budgets import service as budgets
from policy_engine.domain.decisions.compiler import CompiledPolicy, compile_policy
from policy_engine.domain.document.inheritance import Layer, merge
from policy_engine.domain.document.schema import PolicyDocument
from policy_engine.evaluation import service
from policy_engine.evaluation.cache import PolicyCache
from policy_engine.evaluation.decision_log import DecisionLog, LoggedDecision
from policy_engine.evaluation.schemas import AuthorizeRequest
from policy_engine.evaluation.service import Authorization, Authorizer, RecentViolations
from policy_engine.models import decisions, messaging

MIGRATIONS = Path(service.__file__).parents[1] / "migrations"
REQUESTS = 200
COST = 0.5  # 200 x $0.50 = the whole $100 agency budget: every request fits, exactly
POLICY = {"budgets": {"agency": {"daily": {"usd": 100}}, "alert_thresholds": [0.5, 0.8, 0.95]}}


def policy() -> CompiledPolicy:
    doc = PolicyDocument.model_validate(
        {
            "apiVersion": "cortex.codevald.io/v1",
            "kind": "AIPolicy",
            "metadata": {"name": "acme", "layer": "agency", "agency": "acme"},
            "spec": POLICY,
        }
    )
    return compile_policy(merge([Layer(doc, 1, "agency")]))


@pytest.fixture
async def authorizer(database_url: str) -> AsyncIterator[Authorizer]:
    db = Database(database_url, pool_size=20)
    await upgrade_to_head(db, MIGRATIONS, "policy")
    compiled = policy()

    async def load(agency: str, team: str | None) -> tuple[CompiledPolicy, str]:
        return compiled, "agency:1"

    writer: BatchWriter[LoggedDecision] = BatchWriter(
        DecisionLog(db, messaging.outbox).write, name="decisions", max_delay_s=0.01
    )
    writer.start()
    try:
        yield Authorizer(db, PolicyCache(load), writer, RecentViolations())
    finally:
        await writer.stop()
        await db.dispose()


def request(n: int) -> AuthorizeRequest:
    return AuthorizeRequest.model_validate(
        {"agent_id": f"agent-{n}", "action": {"type": "llm.call", "estimated_cost_usd": COST}}
    )


async def alert_events(db: Database) -> list[BudgetThresholdCrossed]:
    async with db.session() as session:
        datas = (await session.scalars(select(messaging.outbox.c.data))).all()
    events = [unpack(decode(data)) for data in datas]
    return [e for e in events if isinstance(e, BudgetThresholdCrossed)]


async def logged_budgets(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        rows = await session.execute(select(decisions.c.decision_id, decisions.c.input))
        return {r.decision_id: r.input["context"]["budget"] for r in rows}


async def authorize_all(auth: Authorizer) -> list[Authorization]:
    return await asyncio.gather(
        *(service.authorize(auth, "acme", request(n)) for n in range(REQUESTS))
    )


async def test_each_threshold_is_alerted_exactly_once_under_concurrency(
    authorizer: Authorizer,
) -> None:
    answers = await authorize_all(authorizer)
    await authorizer.log.drain()
    assert {a.result.decision for a in answers} == {"allow"}
    events = await alert_events(authorizer.db)
    assert sorted(e.threshold for e in events) == [0.5, 0.8, 0.95]
    alerted = {a.decision_id: a.result.budget_alerts for a in answers if a.result.budget_alerts}
    assert sorted(t.threshold for alerts in alerted.values() for t in alerts) == [0.5, 0.8, 0.95]
    assert {e.decision_id for e in events} == set(alerted)
    for event in events:
        # the request that took usage onto the threshold's mark ($50, $80, $95), no other
        assert event.used == event.threshold * 100
        assert (event.scope, event.period, event.unit, event.agent_id) == (
            "agency",
            "daily",
            "usd",
            "",
        )


async def test_a_window_alerts_a_threshold_once_even_if_usage_falls_back_below_it(
    authorizer: Authorizer,
) -> None:
    await authorize_all(authorizer)
    # settlements (actual below the estimate) take the window back under every mark...
    async with authorizer.db.session() as session:
        windows = budgets.counters(policy().budgets, "agent-x", datetime.now(UTC))
        await repository.add_usage(session, "acme", windows, Decimal("-60"), 0)
    # ... and the climb back over 50 % and 80 % is not alerted again in the same window
    refill = await asyncio.gather(
        *(service.authorize(authorizer, "acme", request(n)) for n in range(REQUESTS, 300))
    )
    assert {a.result.decision for a in refill} == {"allow"}
    assert not [a for a in refill if a.result.budget_alerts]
    assert sorted(e.threshold for e in await alert_events(authorizer.db)) == [0.5, 0.8, 0.95]


async def test_each_decision_logs_the_budget_its_own_reservation_saw(
    authorizer: Authorizer,
) -> None:
    answers = await authorize_all(authorizer)
    await authorizer.log.drain()
    logged = await logged_budgets(authorizer.db)
    before = sorted(logged[a.decision_id]["agency_daily_usd"] for a in answers)
    # the row lock orders the reservations: each saw the total the previous one left
    assert before == [n * COST for n in range(REQUESTS)]


async def test_a_settlement_above_the_estimate_alerts_the_thresholds_it_crosses(
    authorizer: Authorizer,
) -> None:
    compiled = policy()
    answer = await service.authorize(authorizer, "acme", request(0))  # reserves $0.50
    assert answer.result.decision == "allow"
    assert await alert_events(authorizer.db) == []
    async with authorizer.db.session() as session:
        settled = await budgets.settle(
            session,
            agency="acme",
            decision_id=answer.decision_id,
            usd=85.0,  # the action cost far more than estimated: $85 of $100
            tokens=0,
            limits=compiled.budgets,
            thresholds=compiled.alert_thresholds,
            now=datetime.now(UTC),
        )
    assert [a.threshold for a in settled.budget_alerts] == [0.5, 0.8]
    events = await alert_events(authorizer.db)
    assert sorted(e.threshold for e in events) == [0.5, 0.8]
    # the next reservation that takes usage past 95 % alerts that one only, once
    more = await asyncio.gather(
        *(service.authorize(authorizer, "acme", request(n)) for n in range(1, 30))
    )
    assert all(a.result.decision == "allow" for a in more)
    assert sorted(e.threshold for e in await alert_events(authorizer.db)) == [0.5, 0.8, 0.95]
