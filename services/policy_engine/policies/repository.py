"""All SQL of policy versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.models import policy_versions as pv


async def lock_scope(session: AsyncSession, scope: str) -> None:
    """Serialise publications of one scope (held until the transaction ends)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": scope})


async def latest(session: AsyncSession, scope: str) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(pv).where(pv.c.scope == scope).order_by(pv.c.version.desc()).limit(1)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def latest_many(session: AsyncSession, scopes: list[str]) -> dict[str, dict[str, Any]]:
    stmt = (
        select(pv)
        .where(pv.c.scope.in_(scopes))
        .ext(distinct_on(pv.c.scope))
        .order_by(pv.c.scope, pv.c.version.desc())
    )
    return {r["scope"]: dict(r) for r in (await session.execute(stmt)).mappings()}


async def version(session: AsyncSession, scope: str, number: int) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(pv).where(pv.c.scope == scope, pv.c.version == number)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def history(session: AsyncSession, scope: str, limit: int) -> list[dict[str, Any]]:
    stmt = (
        select(
            pv.c.version,
            pv.c.layer,
            pv.c.agency,
            pv.c.team,
            pv.c.content_hash,
            pv.c.author,
            pv.c.message,
            pv.c.rollback_of,
            pv.c.created_at,
        )
        .where(pv.c.scope == scope)
        .order_by(pv.c.version.desc())
        .limit(limit)
    )
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


async def next_version(session: AsyncSession, scope: str) -> int:
    current = await session.scalar(select(func.max(pv.c.version)).where(pv.c.scope == scope))
    return int(current or 0) + 1


async def insert_version(session: AsyncSession, **values: Any) -> dict[str, Any]:
    row = (await session.execute(insert(pv).values(**values).returning(pv))).mappings().one()
    return dict(row)
