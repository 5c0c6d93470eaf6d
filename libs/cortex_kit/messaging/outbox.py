"""Transactional outbox: events are rows committed with the state change, then relayed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    any_,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from cortex_kit.messaging.bus import Bus, OutgoingMessage
from cortex_kit.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_FAILURES,
    OUTBOX_PUBLISHED,
    inject_context,
)

log = get_logger("cortex.outbox")


class EnvelopeLike(Protocol):
    """A serialisable message with an id (the protobuf ``Envelope``)."""

    @property
    def id(self) -> str: ...
    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...


@dataclass(frozen=True)
class PendingEvent:
    subject: str
    envelope: EnvelopeLike


async def add_to_outbox(
    session: AsyncSession, outbox: Table, events: Sequence[PendingEvent]
) -> None:
    """Stage events in the caller's transaction: they are published only if it commits."""
    if not events:
        return
    headers = inject_context({})
    rows = [
        {
            "msg_id": e.envelope.id,
            "subject": e.subject,
            "data": e.envelope.SerializeToString(deterministic=True),
            "headers": headers,
        }
        for e in events
    ]
    await session.execute(insert(outbox), rows)


def _any_of(seqs: list[int]) -> ColumnElement[bool]:
    """``= ANY($1::BIGINT[])``: one statement for every batch size, where ``IN`` renders one
    parameter per row into a new SQL text (compiled, and prepared by PostgreSQL) per size."""
    return any_(literal(seqs, ARRAY(BigInteger)))


class OutboxRelay:
    """Publishes committed outbox rows in order, marks them published, retries with backoff.

    Woken by commits in this process (``Database.on_commit``) and by a poll interval, so rows
    committed by other replicas or before a crash are published too. Rows are claimed with
    ``FOR UPDATE SKIP LOCKED`` so replicas never publish the same row concurrently; JetStream's
    ``Nats-Msg-Id`` dedupe covers a crash between publish and mark.
    """

    def __init__(
        self,
        db: Database,
        bus: Bus,
        outbox: Table,
        *,
        service: str,
        batch_size: int = 1000,
        poll_interval_s: float = 0.5,
        retention_s: float = 3600.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.outbox = outbox
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention_s = retention_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        db.on_commit(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 0.0
        ticks = 0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s + backoff)
            self._wake.clear()
            try:
                while await self.relay_once() == self.batch_size:
                    pass
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                OUTBOX_FAILURES.labels(self.service).inc()
                backoff = min(self.max_backoff_s, max(0.25, backoff * 2))
                log.warning("outbox.relay_failed", error=str(exc), retry_in_s=backoff)
            ticks += 1
            if ticks % 20 == 0:
                await self._housekeeping()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        o = self.outbox
        # A connection, not ``db.session()``: a session commit fires ``Database.on_commit``, which
        # wakes this relay, so its own commits would make it poll in a busy loop.
        async with self.db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(o.c.seq, o.c.msg_id, o.c.subject, o.c.data, o.c.headers)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.seq)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            if not self.bus.connected:
                raise ConnectionError("NATS is not connected")
            results = await self.bus.publish_batch(
                [OutgoingMessage(r.subject, r.data, r.msg_id, dict(r.headers)) for r in rows]
            )
            ok = [r.seq for r, good in zip(rows, results, strict=True) if good]
            failed = [r.seq for r, good in zip(rows, results, strict=True) if not good]
            if ok:
                await conn.execute(
                    update(o).where(o.c.seq == _any_of(ok)).values(published_at=func.now())
                )
            if failed:
                await conn.execute(
                    update(o)
                    .where(o.c.seq == _any_of(failed))
                    .values(attempts=o.c.attempts + 1, last_error="not acknowledged by JetStream")
                )
        OUTBOX_PUBLISHED.labels(self.service).inc(len(ok))
        if failed:
            raise ConnectionError(f"{len(failed)} of {len(rows)} events not acknowledged")
        return len(ok)

    async def backlog(self) -> int:
        o = self.outbox
        async with self.db.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(o).where(o.c.published_at.is_(None))
            )
        return int(count or 0)

    async def _housekeeping(self) -> None:
        try:
            OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
            o = self.outbox
            async with self.db.engine.begin() as conn:
                await conn.execute(
                    delete(o).where(
                        o.c.published_at
                        < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, self.retention_s)
                    )
                )
        except Exception as exc:
            log.warning("outbox.housekeeping_failed", error=str(exc))
