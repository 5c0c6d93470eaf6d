"""All SQL of API keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import api_keys


async def find_active(session: AsyncSession, key_id: str) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def insert_key(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(api_keys).values(**values))


async def any_key_exists(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(api_keys)))


async def lock_bootstrap(session: AsyncSession) -> None:
    """Serialise the bootstrap of replicas starting together (held until commit)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('cortex-gateway-bootstrap'))")
    )


async def list_keys(session: AsyncSession, agency: str | None) -> list[dict[str, Any]]:
    stmt = select(
        api_keys.c.id,
        api_keys.c.name,
        api_keys.c.agency,
        api_keys.c.role,
        api_keys.c.created_by,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).order_by(api_keys.c.created_at)
    if agency is not None:
        stmt = stmt.where(api_keys.c.agency == agency)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


async def revoke(session: AsyncSession, key_id: str) -> bool:
    result = await session.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(api_keys.c.id)
    )
    return result.first() is not None
