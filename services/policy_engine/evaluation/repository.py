"""All SQL of recorded decisions (reads; writes are batched by the decision log)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.domain.decisions.decision import Decision
from policy_engine.models import decisions as d


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One row of the decision log: masked inputs and the full explanation."""

    decision_id: str
    agency: str
    agent_id: str
    action_type: str
    decision: Decision
    risk_score: float
    reasons: list[dict[str, Any]]
    """Each reason as ``Reason.to_dict()`` (what the request may have quoted masked)."""
    input: dict[str, Any]
    """``{"request": …, "context": …}``, every detected entity masked (see decision_log)."""
    policy_version: str
    evaluated_us: float
    created_at: datetime


async def get(session: AsyncSession, agency: str, decision_id: str) -> DecisionRow | None:
    row = (
        (
            await session.execute(
                select(d).where(d.c.agency == agency, d.c.decision_id == decision_id)
            )
        )
        .mappings()
        .first()
    )
    return DecisionRow(**row) if row else None


async def recent(
    session: AsyncSession,
    agency: str,
    limit: int,
    agent_id: str | None = None,
    decision: Decision | None = None,
) -> list[DecisionRow]:
    stmt = select(d).where(d.c.agency == agency)
    if agent_id:
        stmt = stmt.where(d.c.agent_id == agent_id)
    if decision:
        stmt = stmt.where(d.c.decision == decision)
    stmt = stmt.order_by(d.c.created_at.desc()).limit(limit)
    return [DecisionRow(**r) for r in (await session.execute(stmt)).mappings()]
