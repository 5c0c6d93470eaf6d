"""All SQL of recorded decisions (reads; writes are batched by the decision log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.models import decisions as d


async def get(session: AsyncSession, agency: str, decision_id: str) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(d).where(d.c.agency == agency, d.c.decision_id == decision_id)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def recent(
    session: AsyncSession,
    agency: str,
    limit: int,
    agent_id: str | None = None,
    decision: str | None = None,
) -> list[dict[str, Any]]:
    stmt = select(d).where(d.c.agency == agency)
    if agent_id:
        stmt = stmt.where(d.c.agent_id == agent_id)
    if decision:
        stmt = stmt.where(d.c.decision == decision)
    stmt = stmt.order_by(d.c.created_at.desc()).limit(limit)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]
