"""All SQL of delivery events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from metrics_collector.domain.facts import DeliveryFact
from metrics_collector.models import delivery_events


async def insert_facts(session: AsyncSession, facts: Sequence[DeliveryFact]) -> int:
    """Insert new facts; an (agency, kind, event_id) already stored is left as it is."""
    if not facts:
        return 0
    stmt = (
        pg_insert(delivery_events)
        .values([asdict(f) for f in facts])
        .on_conflict_do_nothing()
        .returning(delivery_events.c.event_id)
    )
    return len((await session.execute(stmt)).all())


async def get_fact(
    session: AsyncSession, agency: str, kind: str, event_id: str
) -> dict[str, Any] | None:
    t = delivery_events
    row = (
        (
            await session.execute(
                select(t).where(t.c.agency == agency, t.c.kind == kind, t.c.event_id == event_id)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def list_facts(
    session: AsyncSession, agency: str, kind: str | None, limit: int
) -> list[dict[str, Any]]:
    t = delivery_events
    stmt = select(t).where(t.c.agency == agency)
    if kind:
        stmt = stmt.where(t.c.kind == kind)
    stmt = stmt.order_by(t.c.occurred_at.desc(), t.c.event_id).limit(limit)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]
