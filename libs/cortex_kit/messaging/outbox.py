"""Transactional outbox: events are rows committed with the state change, then relayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache
from sqlalchemy import (
    BigInteger,
    Insert,
    LargeBinary,
    Select,
    Table,
    Text,
    Update,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from cortex_kit.messaging.bus import Bus, OutgoingMessage
from cortex_kit.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_FAILURES,
    OUTBOX_PUBLISHED,
    inject_context,
)

HOUSEKEEPING_INTERVAL_S = 10.0
"""How often the backlog gauge is refreshed and published rows past retention deleted."""
STAGED = "cortex.outbox.staged"
"""``session.info`` flag: this transaction added outbox rows."""
log = get_logger("cortex.outbox")
_HEADER_CACHE_LIMIT = 1024
_ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"


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
    session.info[STAGED] = True
    if not events:
        return
    params = {
        "msg_ids": [e.envelope.id for e in events],
        "subjects": [e.subject for e in events],
        "datas": [e.envelope.SerializeToString(deterministic=True) for e in events],
        "headers": inject_context({}),  # one trace context for the whole transaction
    }
    await session.execute(_insert_statement(outbox), params)


_INSERTS: dict[Table, Insert] = {}


def _insert_statement(outbox: Table) -> Insert:
    """``INSERT … SELECT … FROM unnest($1, $2, $3) WITH ORDINALITY ORDER BY ordinality``.

    Three array parameters whatever the number of events: one statement, compiled once and
    prepared once, instead of a row of parameters (each processed by SQLAlchemy) per event;
    the ordinality keeps ``seq`` in the order the events were given.
    """
    statement = _INSERTS.get(outbox)
    if statement is None:
        rows = (
            func.unnest(
                bindparam("msg_ids", type_=ARRAY(Text)),
                bindparam("subjects", type_=ARRAY(Text)),
                bindparam("datas", type_=ARRAY(LargeBinary)),
            )
            .table_valued("msg_id", "subject", "data", with_ordinality="n")
            .render_derived()
        )
        statement = _INSERTS[outbox] = insert(outbox).from_select(
            ["msg_id", "subject", "data", "headers"],
            select(
                rows.c.msg_id,
                rows.c.subject,
                rows.c.data,
                bindparam("headers", type_=outbox.c.headers.type),
            ).order_by(rows.c.n),
        )
    return statement


@dataclass(frozen=True)
class _RelayStatements:
    batch_size: int
    claim: Select[int, str, str, bytes, str]
    mark_published: Update
    mark_failed: Update

    @classmethod
    def build(cls, outbox: Table, batch_size: int) -> _RelayStatements:
        o = outbox
        # ``= ANY($1::BIGINT[])``: one statement for every batch size, where ``IN`` renders one
        # parameter per row into a new SQL text (compiled, and prepared by PostgreSQL) per size.
        in_batch = o.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger)))
        return cls(
            batch_size=batch_size,
            # Headers as text: decoded once per distinct value, not as JSONB per row.
            claim=select(o.c.seq, o.c.msg_id, o.c.subject, o.c.data, cast(o.c.headers, Text))
            .where(o.c.published_at.is_(None))
            .order_by(o.c.seq)
            .limit(batch_size)
            .with_for_update(skip_locked=True),
            mark_published=update(o).where(in_batch).values(published_at=func.now()),
            mark_failed=update(o)
            .where(in_batch)
            .values(attempts=o.c.attempts + 1, last_error="not acknowledged by JetStream"),
        )


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
        min_interval_s: float = 0.01,
    ) -> None:
        self.db = db
        self.bus = bus
        self.outbox = outbox
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention_s = retention_s
        self.max_backoff_s = max_backoff_s
        # Under load commits wake the relay hundreds of times a second; a cycle at most this
        # often lets the rows of many transactions share one claim, publish and mark.
        self.min_interval_s = min_interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # JSON text of a row's headers → headers: the rows of one transaction share theirs.
        self._headers: LRUCache[str, dict[str, str]] = LRUCache(_HEADER_CACHE_LIMIT)
        self._built: _RelayStatements | None = None
        db.on_commit(self._committed)

    def _committed(self, session: Session) -> None:
        # Only transactions that staged events wake the relay, not every request's commit.
        if session.info.pop(STAGED, False):
            self._wake.set()

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
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time() + HOUSEKEEPING_INTERVAL_S
        last_cycle = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s + backoff)
            if (rest := last_cycle + self.min_interval_s - loop.time()) > 0:
                await asyncio.sleep(rest)
            last_cycle = loop.time()
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
            # By the clock, not per wake-up: under load the relay wakes hundreds of times a second.
            if loop.time() >= next_housekeeping:
                next_housekeeping = loop.time() + HOUSEKEEPING_INTERVAL_S
                await self._housekeeping()

    def _statements(self) -> _RelayStatements:
        # Built once (per batch size): building a statement and its cache key on each batch
        # costs more CPU than executing it.
        if self._built is None or self._built.batch_size != self.batch_size:
            self._built = _RelayStatements.build(self.outbox, self.batch_size)
        return self._built

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        statements = self._statements()
        # A connection, not ``db.session()``: a session commit fires ``Database.on_commit``, which
        # wakes this relay, so its own commits would make it poll in a busy loop.
        async with self.db.engine.begin() as conn:
            # Marking rows published need not wait for a WAL flush: should PostgreSQL crash
            # before it, the rows are published again and JetStream drops them as duplicates
            # (same ``Nats-Msg-Id``), as do the consumers' inboxes.
            await conn.exec_driver_sql(_ASYNC_COMMIT)
            rows = (await conn.execute(statements.claim)).all()
            if not rows:
                return 0
            if not self.bus.connected:
                raise ConnectionError("NATS is not connected")
            # Rows unpacked or indexed: a Row's attribute access costs more than the rest of it.
            headers_of = self._headers_of
            results = await self.bus.publish_batch(
                [
                    OutgoingMessage(subject, data, msg_id, headers_of(headers))
                    for _, msg_id, subject, data, headers in rows
                ]
            )
            ok = [row[0] for row, good in zip(rows, results, strict=True) if good]
            failed = [row[0] for row, good in zip(rows, results, strict=True) if not good]
            if ok:
                await conn.execute(statements.mark_published, {"seqs": ok})
            if failed:
                await conn.execute(statements.mark_failed, {"seqs": failed})
        OUTBOX_PUBLISHED.labels(self.service).inc(len(ok))
        if failed:
            raise ConnectionError(f"{len(failed)} of {len(rows)} events not acknowledged")
        return len(ok)

    def _headers_of(self, text: str) -> dict[str, str]:
        """The headers stored as ``text`` (shared between rows: the bus does not change them)."""
        headers = self._headers.get(text)
        if headers is None:
            stored = json.loads(text)
            headers = (
                {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
            )
            self._headers[text] = headers
        return headers

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
