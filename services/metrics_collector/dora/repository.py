"""All SQL of the DORA cache and settings.

The cache reads in ``REPEATABLE READ`` transactions whose first statement is
:func:`snapshot_xmin`: every transaction older than that id has finished and is in the read, so
the next read only needs rows written by transactions from that id on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, any_, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cortex_kit.db import driver_connection
from metrics_collector.models import CURRENT_XID, SCHEMA, delivery_events, dora_settings

_E = delivery_events
_S = dora_settings
# The facts as JSON text, parsed by the cache (``json.loads``): the same work the jsonb codec
# would do, and one row shape for the load (raw asyncpg) and the polls.
FACT_COLUMNS = (
    _E.c.agency,
    _E.c.kind,
    _E.c.event_id,
    _E.c.occurred_at,
    cast(_E.c.facts, Text).label("facts"),
)
SETTINGS_COLUMNS = (
    _S.c.agency,
    _S.c.strategy,
    _S.c.max_age_s,
    _S.c.window_s,
    _S.c.explicit_first,
    _S.c.updated_by,
    _S.c.updated_at,
)


@dataclass(frozen=True, slots=True)
class SettingsRow:
    """An agency's row of ``dora_settings`` (``SETTINGS_COLUMNS``)."""

    agency: str
    strategy: str  # a LinkStrategy value
    max_age_s: float
    window_s: float
    explicit_first: bool
    updated_by: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """A settings row and the transaction that wrote it."""

    settings: SettingsRow
    changed_xid: int


def _settings_row(row: Any) -> SettingsRow:
    return SettingsRow(
        agency=row.agency,
        strategy=row.strategy,
        max_age_s=row.max_age_s,
        window_s=row.window_s,
        explicit_first=row.explicit_first,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def snapshot_xmin(conn: AsyncConnection) -> int:
    """The oldest transaction id still running when this transaction's snapshot was taken."""
    value = await conn.scalar(
        text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
    )
    return int(value or 0)


_STREAM_FACTS = (
    "SELECT agency, kind, event_id, occurred_at, facts::text FROM metrics.delivery_events "
    "WHERE agency = $1"
)


async def stream_facts(
    conn: AsyncConnection, agency: str, chunk: int = 10_000
) -> AsyncIterator[Sequence[Any]]:
    """Every merged fact of an agency, in chunks (a server-side cursor: bounded memory), as
    rows in ``FACT_COLUMNS``' order.

    Straight on asyncpg, inside ``conn``'s transaction: for millions of rows, SQLAlchemy's
    per-row work costs as much as building the facts.
    """
    cursor = await (await driver_connection(conn)).cursor(_STREAM_FACTS, agency)
    while rows := await cursor.fetch(chunk):
        yield rows


async def facts_changed_since(
    conn: AsyncConnection, agencies: Sequence[str], xid: int
) -> Sequence[Any]:
    stmt = select(*FACT_COLUMNS, _E.c.changed_xid).where(
        _E.c.changed_xid >= xid, _E.c.agency == any_(_agencies(agencies))
    )
    return (await conn.execute(stmt)).all()


async def settings_changed_since(
    conn: AsyncConnection, agencies: Sequence[str], xid: int
) -> list[SettingsChange]:
    stmt = select(*SETTINGS_COLUMNS, _S.c.changed_xid).where(
        _S.c.changed_xid >= xid, _S.c.agency == any_(_agencies(agencies))
    )
    return [SettingsChange(_settings_row(r), r.changed_xid) for r in await conn.execute(stmt)]


def _agencies(agencies: Sequence[str]) -> Any:
    return literal(list(agencies), ARRAY(Text))


async def agencies_with_facts(conn: AsyncConnection) -> list[str]:
    # A loose index scan: one probe per agency instead of reading every fact.
    table = f'"{SCHEMA}".delivery_events'
    rows = await conn.execute(
        text(
            f"""
            WITH RECURSIVE a(agency) AS (
                (SELECT agency FROM {table} ORDER BY agency LIMIT 1)
                UNION ALL
                SELECT (SELECT e.agency FROM {table} e
                        WHERE e.agency > a.agency ORDER BY e.agency LIMIT 1)
                FROM a WHERE a.agency IS NOT NULL
            )
            SELECT agency FROM a WHERE agency IS NOT NULL
            """  # noqa: S608 - the schema is a constant of this module
        )
    )
    return [str(r[0]) for r in rows]


async def get_settings(conn: AsyncConnection | AsyncSession, agency: str) -> SettingsRow | None:
    row = (await conn.execute(select(*SETTINGS_COLUMNS).where(_S.c.agency == agency))).first()
    return None if row is None else _settings_row(row)


async def put_settings(
    session: AsyncSession,
    agency: str,
    *,
    strategy: str,
    max_age_s: float,
    window_s: float,
    explicit_first: bool,
    updated_by: str | None,
) -> SettingsRow:
    values = {
        "strategy": strategy,
        "max_age_s": max_age_s,
        "window_s": window_s,
        "explicit_first": explicit_first,
        "updated_by": updated_by,
    }
    new = pg_insert(_S).values(agency=agency, **values)
    stmt = new.on_conflict_do_update(
        index_elements=[_S.c.agency],
        set_={
            **{k: new.excluded[k] for k in values},
            "updated_at": func.now(),
            "changed_xid": CURRENT_XID,
        },
    ).returning(*SETTINGS_COLUMNS)
    return _settings_row((await session.execute(stmt)).one())
