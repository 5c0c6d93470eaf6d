"""All SQL of delivery events: every version as it arrived, and the merged fact."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import BigInteger, Text, and_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.db import driver_connection
from metrics_collector.domain.facts.mapping import DeliveryFact
from metrics_collector.models import CURRENT_XID, delivery_events, delivery_fact_versions

Identity = tuple[str, str, str]
"""``(agency, kind, event_id)``: one merged fact."""


class StoredRow(NamedTuple):
    event_id: str
    facts: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class MergedFactRow:
    """A row of ``delivery_events``: one merged fact, as ``GET /v1/events`` shows it."""

    agency: str
    event_id: str
    kind: str
    service: str
    environment: str | None
    occurred_at: datetime
    received_at: datetime
    envelope_id: str
    source: str
    facts: dict[str, Any]  # JSONB: the merged facts, enum fields by their protobuf names
    versions: int
    updated_at: datetime
    changed_xid: int


class _MergedValues(TypedDict):
    """The parameters of one merged row in ``_UPSERT``: a fact and its number of versions."""

    agency: str
    kind: str
    event_id: str
    service: str
    environment: str | None
    occurred_at: datetime
    envelope_id: str
    source: str
    facts: dict[str, Any]
    versions: int


_V = delivery_fact_versions
_E = delivery_events

# One statement for every batch size (array parameters, like the kit's inbox claim).
_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM "
    "(SELECT DISTINCT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"
).bindparams(bindparam("keys", type_=ARRAY(BigInteger)))
_WANTED = (
    func.unnest(
        bindparam("agencies", type_=ARRAY(Text)),
        bindparam("kinds", type_=ARRAY(Text)),
        bindparam("event_ids", type_=ARRAY(Text)),
    )
    .table_valued("agency", "kind", "event_id")
    .render_derived(name="wanted")
)
_VERSIONS_OF = select(_V).join(
    _WANTED,
    and_(
        _V.c.agency == _WANTED.c.agency,
        _V.c.kind == _WANTED.c.kind,
        _V.c.event_id == _WANTED.c.event_id,
    ),
)
_UPSERT = pg_insert(_E)
_UPSERT = _UPSERT.on_conflict_do_update(
    index_elements=[_E.c.agency, _E.c.event_id, _E.c.kind],
    set_={
        "service": _UPSERT.excluded.service,
        "environment": _UPSERT.excluded.environment,
        "occurred_at": _UPSERT.excluded.occurred_at,
        "envelope_id": _UPSERT.excluded.envelope_id,
        "source": _UPSERT.excluded.source,
        "facts": _UPSERT.excluded.facts,
        "versions": _UPSERT.excluded.versions,
        "updated_at": func.now(),
        "changed_xid": CURRENT_XID,
    },
)


def _merged_values(fact: DeliveryFact, versions: int) -> _MergedValues:
    # Not dataclasses.asdict: it deep-copies every facts dict, most of a batch's CPU time.
    return {
        "agency": fact.agency,
        "kind": fact.kind,
        "event_id": fact.event_id,
        "service": fact.service,
        "environment": fact.environment,
        "occurred_at": fact.occurred_at,
        "envelope_id": fact.envelope_id,
        "source": fact.source,
        "facts": fact.facts,
        "versions": versions,
    }


def _lock_key(identity: Identity) -> int:
    # 64-bit key from two CRCs: collisions only make two facts wait for each other.
    raw = "\x1f".join(identity).encode()
    value = (zlib.crc32(raw) << 32) | zlib.crc32(raw[::-1])
    return value - (1 << 64) if value >= 1 << 63 else value


async def lock_identities(session: AsyncSession, identities: Iterable[Identity]) -> None:
    """Serialise writers of the same facts until commit (replicas consume concurrently), so
    each one merges every version committed before it."""
    keys = sorted({_lock_key(i) for i in identities})
    if keys:
        await session.execute(_LOCK, {"keys": keys})


def _fact(row: Any) -> DeliveryFact:
    return DeliveryFact(
        agency=row.agency,
        kind=row.kind,
        event_id=row.event_id,
        service=row.service,
        environment=row.environment,
        occurred_at=row.occurred_at,
        envelope_id=row.envelope_id,
        source=row.source,
        facts=row.facts,
    )


async def versions_of(
    session: AsyncSession, identities: Sequence[Identity]
) -> dict[Identity, list[DeliveryFact]]:
    """Every stored version of each fact, oldest envelope first."""
    if not identities:
        return {}
    agencies, kinds, event_ids = (list(column) for column in zip(*identities, strict=True))
    rows = await session.execute(
        _VERSIONS_OF.order_by(_V.c.envelope_id),
        {"agencies": agencies, "kinds": kinds, "event_ids": event_ids},
    )
    found: dict[Identity, list[DeliveryFact]] = {}
    for row in rows:
        found.setdefault((row.agency, row.kind, row.event_id), []).append(_fact(row))
    return found


# Every version, and the facts seen for the first time as their own merged row, in one
# statement of arrays: one round trip and no per-row parameter processing (a batch holds
# thousands of events). ``first`` marks the rows that are also a new merged fact.
_STORE = """
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::timestamptz[], $8::text[], $9::text[], $10::bool[]
    ) AS t(envelope_id, agency, kind, event_id, service, environment, occurred_at, source,
           facts, first)
), versions AS (
    INSERT INTO metrics.delivery_fact_versions
        (envelope_id, agency, kind, event_id, service, environment, occurred_at, source, facts)
    SELECT envelope_id, agency, kind, event_id, service, environment, occurred_at, source,
           facts::jsonb
    FROM input
    ON CONFLICT (envelope_id) DO NOTHING
)
INSERT INTO metrics.delivery_events
    (agency, event_id, kind, service, environment, occurred_at, envelope_id, source, facts)
SELECT agency, event_id, kind, service, environment, occurred_at, envelope_id, source,
       facts::jsonb
FROM input WHERE first
ON CONFLICT (agency, event_id, kind) DO NOTHING
RETURNING agency, kind, event_id
"""


_dumps = json.JSONEncoder(separators=(",", ":")).encode
# SQLSTATE classes that blame the rows written, not the database: 22 data exception (22021 a
# NUL in text, 22P05 a NUL in jsonb, 22003 out of range), 23 integrity constraint violation,
# 54 program limit exceeded (54000: an id too long for its index).
_REFUSED_DATA_CLASSES = ("22", "23", "54")


def refused_data(error: BaseException) -> bool:
    """Whether PostgreSQL, or asyncpg encoding a value for it, refused the data written (as
    opposed to failing itself): the rows to blame can be left out and the others stored."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate:
            return sqlstate.startswith(_REFUSED_DATA_CLASSES)
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ == (
            "DataError"  # client-side: an argument asyncpg cannot encode
        ):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


async def store(
    session: AsyncSession, facts: Sequence[DeliveryFact], first: Sequence[bool]
) -> set[Identity]:
    """Insert every version, and each ``first`` fact as its merged row unless one exists;
    returns the identities stored as new merged rows (the others need a merge)."""
    if not facts:
        return set()
    conn = await driver_connection(session)
    rows = await conn.fetch(
        _STORE,
        [f.envelope_id for f in facts],
        [f.agency for f in facts],
        [f.kind for f in facts],
        [f.event_id for f in facts],
        [f.service for f in facts],
        [f.environment for f in facts],
        [f.occurred_at for f in facts],
        [f.source for f in facts],
        [_dumps(f.facts) for f in facts],
        list(first),
    )
    return {(r[0], r[1], r[2]) for r in rows}


async def upsert_merged(session: AsyncSession, merged: Sequence[tuple[DeliveryFact, int]]) -> None:
    """Store each fact's merged row with the number of versions it was merged from."""
    if merged:
        await session.execute(_UPSERT, [_merged_values(f, n) for f, n in merged])


def _merged_row(row: Any) -> MergedFactRow:
    return MergedFactRow(
        agency=row.agency,
        event_id=row.event_id,
        kind=row.kind,
        service=row.service,
        environment=row.environment,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        envelope_id=row.envelope_id,
        source=row.source,
        facts=row.facts,
        versions=row.versions,
        updated_at=row.updated_at,
        changed_xid=row.changed_xid,
    )


async def get_fact(
    session: AsyncSession, agency: str, kind: str, event_id: str
) -> MergedFactRow | None:
    t = _E
    row = (
        await session.execute(
            select(t).where(t.c.agency == agency, t.c.kind == kind, t.c.event_id == event_id)
        )
    ).first()
    return None if row is None else _merged_row(row)


async def list_facts(
    session: AsyncSession, agency: str, kind: str | None, limit: int
) -> list[MergedFactRow]:
    t = _E
    stmt = select(t).where(t.c.agency == agency)
    if kind:
        stmt = stmt.where(t.c.kind == kind)
    stmt = stmt.order_by(t.c.occurred_at.desc(), t.c.event_id).limit(limit)
    return [_merged_row(r) for r in await session.execute(stmt)]


async def deployment_rows(
    session: AsyncSession, agency: str, deployment_ids: Sequence[str]
) -> list[StoredRow]:
    """The merged rows of the agency's deployments among ``deployment_ids`` (unknown ones
    are absent)."""
    t = delivery_events
    stmt = select(t.c.event_id, t.c.facts, t.c.occurred_at).where(
        t.c.agency == agency, t.c.kind == "deployment", t.c.event_id.in_(deployment_ids)
    )
    return [StoredRow(*r) for r in (await session.execute(stmt)).all()]
