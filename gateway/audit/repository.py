"""All SQL of the audit chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.audit import AuditEntry, AuditRecord
from gateway.models import audit_head, audit_log

_L = audit_log
_H = audit_head
_PAGE = 5000


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class AuditFilters:
    agency: str | None = None
    """None: every agency (org-wide keys only)."""
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome_from: int | None = None
    outcome_to: int | None = None


async def advance_head(session: AsyncSession) -> ChainHead:
    """Take the next seq: the head row stays locked until this transaction ends, so appends of
    every replica line up one after the other. Answers the new seq and the previous hash."""
    row = (
        await session.execute(
            update(_H).where(_H.c.id == 1).values(seq=_H.c.seq + 1).returning(_H.c.seq, _H.c.hash)
        )
    ).one()
    return ChainHead(row.seq, bytes(row.hash))


async def insert_record(session: AsyncSession, record: AuditRecord) -> None:
    """The sealed row, and the head moved onto it (one statement)."""
    entry = record.entry
    added = (
        insert(_L)
        .values(
            seq=record.seq,
            at=entry.at,
            actor=entry.actor,
            role=entry.role,
            agency=entry.agency,
            action=entry.action,
            target=dict(entry.target),
            outcome=entry.outcome,
            request_id=entry.request_id,
            prev_hash=record.prev_hash,
            hash=record.hash,
        )
        .cte("added")
    )
    await session.execute(update(_H).where(_H.c.id == 1).values(hash=record.hash).add_cte(added))


async def head(session: AsyncSession) -> ChainHead:
    row = (await session.execute(select(_H.c.seq, _H.c.hash).where(_H.c.id == 1))).one()
    return ChainHead(row.seq, bytes(row.hash))


async def snapshot(session: AsyncSession) -> None:
    """Every later read of this transaction sees one snapshot (the walk of ``verify``): rows
    appended meanwhile are neither counted nor taken for rows beyond the head."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def walk(session: AsyncSession) -> AsyncIterator[AuditRecord]:
    """Every row in ``seq`` order, a page at a time."""
    after: int | None = None
    while True:
        query = select(_L).order_by(_L.c.seq).limit(_PAGE)
        if after is not None:
            query = query.where(_L.c.seq > after)
        rows = (await session.execute(query)).all()
        for row in rows:
            yield _record(row)
        if len(rows) < _PAGE:
            return
        after = rows[-1].seq


async def page(
    session: AsyncSession, filters: AuditFilters, before_seq: int | None, limit: int
) -> list[AuditRecord]:
    """Newest first, at most ``limit`` rows older than ``before_seq``."""
    query = select(_L).order_by(_L.c.seq.desc()).limit(limit)
    conditions: list[Any] = []
    if before_seq is not None:
        conditions.append(_L.c.seq < before_seq)
    if filters.agency is not None:
        conditions.append(_L.c.agency == filters.agency)
    if filters.actor is not None:
        conditions.append(_L.c.actor == filters.actor)
    if filters.action is not None:
        conditions.append(_L.c.action == filters.action)
    if filters.since is not None:
        conditions.append(_L.c.at >= filters.since)
    if filters.until is not None:
        conditions.append(_L.c.at < filters.until)
    if filters.outcome_from is not None:
        conditions.append(_L.c.outcome >= filters.outcome_from)
    if filters.outcome_to is not None:
        conditions.append(_L.c.outcome <= filters.outcome_to)
    rows = (await session.execute(query.where(*conditions))).all()
    return [_record(row) for row in rows]


def _record(row: Row[Any]) -> AuditRecord:
    entry = AuditEntry(
        actor=row.actor,
        role=row.role,
        agency=row.agency,
        action=row.action,
        target=dict(row.target),
        outcome=row.outcome,
        request_id=row.request_id,
        at=row.at,
    )
    return AuditRecord(row.seq, entry, bytes(row.prev_hash), bytes(row.hash))
