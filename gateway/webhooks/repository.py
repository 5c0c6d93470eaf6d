"""All SQL of webhook secrets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import webhook_secrets

_W = webhook_secrets


async def secret_of(session: AsyncSession, agency: str, provider: str) -> str | None:
    value = await session.scalar(
        select(_W.c.secret).where(_W.c.agency == agency, _W.c.provider == provider)
    )
    return None if value is None else str(value)


async def status_of(session: AsyncSession, agency: str, provider: str) -> dict[str, Any] | None:
    """Everything about the secret but the secret."""
    row = (
        (
            await session.execute(
                select(_W.c.updated_by, _W.c.updated_at).where(
                    _W.c.agency == agency, _W.c.provider == provider
                )
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def put_secret(
    session: AsyncSession, agency: str, provider: str, secret: str, updated_by: str
) -> dict[str, Any]:
    stmt = pg_insert(_W).values(
        agency=agency, provider=provider, secret=secret, updated_by=updated_by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_W.c.agency, _W.c.provider],
        set_={"secret": stmt.excluded.secret, "updated_by": updated_by, "updated_at": func.now()},
    )
    row = (await session.execute(stmt.returning(_W.c.updated_by, _W.c.updated_at))).mappings().one()
    return dict(row)


async def delete_secret(session: AsyncSession, agency: str, provider: str) -> bool:
    result = await session.execute(
        delete(_W).where(_W.c.agency == agency, _W.c.provider == provider).returning(_W.c.agency)
    )
    return result.first() is not None
