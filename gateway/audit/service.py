"""Use cases of the audit chain: append a row, list rows, verify the chain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import repository
from gateway.audit.repository import AuditFilters
from gateway.domain.audit import AuditEntry, AuditRecord, ChainVerifier, Verdict, seal


async def append(session: AsyncSession, entry: AuditEntry) -> AuditRecord:
    """Seal ``entry`` onto the chain in ``session``'s transaction (which then holds the head
    until it ends: append last, just before the commit)."""
    head = await repository.advance_head(session)
    record = seal(head.seq, entry, head.hash)
    await repository.insert_record(session, record)
    return record


async def records(
    session: AsyncSession, filters: AuditFilters, before_seq: int | None, limit: int
) -> tuple[list[AuditRecord], int | None]:
    """A page, newest first, and the seq to continue before (None on the last page)."""
    rows = await repository.page(session, filters, before_seq, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].seq if more and rows else None


async def verify(session: AsyncSession) -> tuple[Verdict, repository.ChainHead]:
    """Walk the whole chain in one snapshot."""
    await repository.snapshot(session)
    head = await repository.head(session)
    verifier = ChainVerifier(head.seq, head.hash)
    async for record in repository.walk(session):
        verifier.feed(record)
    return verifier.finish(), head
