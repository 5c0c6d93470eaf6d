"""All SQL of the delivery mappings: versions are only added, the highest one is in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import Row, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import delivery_mappings

_M = delivery_mappings
_COLUMNS = (_M.c.agency, _M.c.version, _M.c.document, _M.c.created_by, _M.c.created_at)


class RepositoryJson(TypedDict, total=False):
    service: str | None
    branches: list[str] | None


class PagerDutyServiceJson(TypedDict, total=False):
    service: str
    environment: str | None


class DocumentJson(TypedDict):
    """A stored mapping document (``MappingDocument`` as JSON)."""

    repositories: dict[str, RepositoryJson]
    pagerduty_services: dict[str, PagerDutyServiceJson]
    environments: dict[str, str]


@dataclass(frozen=True, slots=True)
class MappingRow:
    agency: str
    version: int
    document: DocumentJson
    created_by: str | None
    created_at: datetime


def _row(row: Row[Any, Any, Any, Any, Any]) -> MappingRow:
    # The document was validated (MappingDocument) before it was stored.
    document = cast(DocumentJson, row.document)
    return MappingRow(row.agency, row.version, document, row.created_by, row.created_at)


async def current(session: AsyncSession, agency: str) -> MappingRow | None:
    """The version in force, or None when the agency never set one."""
    stmt = select(*_COLUMNS).where(_M.c.agency == agency).order_by(_M.c.version.desc()).limit(1)
    row = (await session.execute(stmt)).first()
    return None if row is None else _row(row)


async def version_of(session: AsyncSession, agency: str, version: int) -> MappingRow | None:
    stmt = select(*_COLUMNS).where(_M.c.agency == agency, _M.c.version == version)
    row = (await session.execute(stmt)).first()
    return None if row is None else _row(row)


async def history(session: AsyncSession, agency: str, limit: int) -> list[MappingRow]:
    """The latest ``limit`` versions, newest first."""
    stmt = select(*_COLUMNS).where(_M.c.agency == agency).order_by(_M.c.version.desc()).limit(limit)
    return [_row(r) for r in await session.execute(stmt)]


async def add_version(
    session: AsyncSession, agency: str, document: DocumentJson, created_by: str | None
) -> MappingRow:
    """Store ``document`` as the agency's next version. Writers of one agency take turns (a
    transaction-scoped advisory lock), so two PUTs at once make two versions, never a
    conflict."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"gateway.delivery_mappings/{agency}"},
    )
    latest = await session.scalar(
        select(func.coalesce(func.max(_M.c.version), 0)).where(_M.c.agency == agency)
    )
    stmt = (
        pg_insert(_M)
        .values(
            agency=agency,
            version=int(latest or 0) + 1,
            document=document,
            created_by=created_by,
        )
        .returning(*_COLUMNS)
    )
    return _row((await session.execute(stmt)).one())
