"""All SQL of policy versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.domain.document.schema import LayerName
from policy_engine.models import policy_versions as pv
from policy_engine.policies.parsing import ContentType


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One published version of one layer, without its text (a line of the history)."""

    version: int
    layer: LayerName
    agency: str | None
    team: str | None
    content_hash: str
    author: str
    message: str
    rollback_of: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PolicyVersion(VersionInfo):
    """One row of ``policy_versions``: an immutable published version with its text."""

    id: int
    scope: str
    source: str
    content_type: ContentType
    document: dict[str, Any]
    """The normalised document (``PolicyDocument.model_dump(mode="json")``)."""


def _version(row: RowMapping) -> PolicyVersion:
    return PolicyVersion(**row)


async def lock_scope(session: AsyncSession, scope: str) -> None:
    """Serialise publications of one scope (held until the transaction ends)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": scope})


async def latest(session: AsyncSession, scope: str) -> PolicyVersion | None:
    row = (
        (
            await session.execute(
                select(pv).where(pv.c.scope == scope).order_by(pv.c.version.desc()).limit(1)
            )
        )
        .mappings()
        .first()
    )
    return _version(row) if row else None


async def latest_many(session: AsyncSession, scopes: list[str]) -> dict[str, PolicyVersion]:
    stmt = (
        select(pv)
        .where(pv.c.scope.in_(scopes))
        .ext(distinct_on(pv.c.scope))
        .order_by(pv.c.scope, pv.c.version.desc())
    )
    return {r["scope"]: _version(r) for r in (await session.execute(stmt)).mappings()}


async def version(session: AsyncSession, scope: str, number: int) -> PolicyVersion | None:
    row = (
        (await session.execute(select(pv).where(pv.c.scope == scope, pv.c.version == number)))
        .mappings()
        .first()
    )
    return _version(row) if row else None


async def history(session: AsyncSession, scope: str, limit: int) -> list[VersionInfo]:
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
    return [VersionInfo(**r) for r in (await session.execute(stmt)).mappings()]


async def next_version(session: AsyncSession, scope: str) -> int:
    current = await session.scalar(select(func.max(pv.c.version)).where(pv.c.scope == scope))
    return int(current or 0) + 1


async def insert_version(
    session: AsyncSession,
    *,
    scope: str,
    layer: LayerName,
    agency: str | None,
    team: str | None,
    version: int,
    source: str,
    content_type: ContentType,
    document: dict[str, Any],
    content_hash: str,
    author: str,
    message: str,
    rollback_of: int | None,
) -> PolicyVersion:
    stmt = (
        insert(pv)
        .values(
            scope=scope,
            layer=layer,
            agency=agency,
            team=team,
            version=version,
            source=source,
            content_type=content_type,
            document=document,
            content_hash=content_hash,
            author=author,
            message=message,
            rollback_of=rollback_of,
        )
        .returning(pv)
    )
    return _version((await session.execute(stmt)).mappings().one())
