"""Durable pull consumers: inbox dedupe, ack after commit, retry with backoff, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from sqlalchemy import Table, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus
from cortex_kit.messaging.handlers import BatchHandler, Decoder, Message, Undecodable
from cortex_kit.messaging.transport import Transport
from cortex_kit.observability import (
    CONSUMER_LAG,
    MESSAGE_LATENCY,
    MESSAGES_PROCESSED,
    extract_context,
    tracer,
)

T = TypeVar("T")
log = get_logger("cortex.consumer")
DLQ_PREFIX = "cortex.dlq"


# Header values are one line of text: control characters (a NUL of the bad data in a reason)
# would end the header or the protocol line; unencodable characters would fail the publish.
_HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _header_text(text: str, limit: int = 1000) -> str:
    safe = _HEADER_UNSAFE.sub(lambda m: ascii(m.group())[1:-1], text)
    return safe[:limit]


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A delivery as it came off the wire, before decoding (the kit's own view)."""

    msg_id: str
    subject: str
    data: bytes
    headers: dict[str, str]
    num_delivered: int


@dataclass(frozen=True)
class ConsumerSpec(Generic[T]):
    """A durable consumer: its subjects, how its payloads decode, and their batch handler."""

    name: str
    stream: str
    filter_subjects: Sequence[str]
    decode: Decoder[T]
    handler: BatchHandler[T]
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    batch_size: int = 500
    # Also end a batch once its payloads add up to this many bytes (None: no bound): for
    # messages that carry many events each, so that one transaction stays small.
    max_batch_bytes: int | None = None
    # Batches handled at once, each in its own transaction: while one waits for PostgreSQL the
    # next is decoded. Effects must tolerate any order between batches (inbox dedupe, locks).
    concurrency: int = 1
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    deliver_policy: DeliverPolicy = field(default=DeliverPolicy.ALL)


def _delivery(transport: Transport, msg: Msg) -> _Delivery:
    headers = msg.headers or {}
    info = transport.info(msg)
    msg_id = headers.get(MSG_ID_HEADER) or f"{info.stream}:{info.stream_seq}"
    return _Delivery(msg_id, msg.subject, msg.data, headers, info.num_delivered)


class ConsumerRunner(Generic[T]):
    """Runs one durable pull consumer. Each fetched batch is one transaction:

    inbox rows (``ON CONFLICT DO NOTHING``) decide which messages are new, the new ones are
    decoded and the handler applies their effects, the transaction commits, and only then are
    the messages acked. If a batch fails, its messages are retried one by one so a single
    poison message cannot block the rest; a message failing ``max_deliver`` times, or at once
    if it is ``Undecodable``, goes to the dead-letter stream with its reason. An item the
    handler rejects (``Message.reject_item``) goes there alone, and the message is acked with
    the effects of its other items.
    """

    def __init__(
        self, db: Database, bus: Bus, inbox: Table, spec: ConsumerSpec[T], *, service: str
    ) -> None:
        self.db = db
        self.bus = bus
        self.inbox = inbox
        self.spec = spec
        self.service = service
        self.transport: Transport = bus.transport
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._tracer = tracer("cortex.consumer")
        # One array parameter rather than a multi-row VALUES: the statement compiles once and is
        # cached, instead of being compiled again for each batch (most of a batch's CPU time).
        self._claim_stmt = (
            pg_insert(inbox)
            .from_select(
                ["consumer", "msg_id"],
                select(
                    bindparam("consumer", type_=Text),
                    func.unnest(bindparam("msg_ids", type_=ARRAY(Text))),
                ),
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.msg_id)
        )

    async def declare(self) -> None:
        spec = self.spec
        config = ConsumerConfig(
            durable_name=spec.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=spec.deliver_policy,
            # Unlimited on the server: the runner dead-letters after max_deliver handler
            # failures itself, and must keep retrying while its database is unreachable.
            max_deliver=-1,
            ack_wait=spec.ack_wait_s,
            max_ack_pending=max(1000, spec.batch_size * 4),
        )
        if len(spec.filter_subjects) == 1:
            config.filter_subject = spec.filter_subjects[0]
        else:
            config.filter_subjects = list(spec.filter_subjects)
        try:
            await self.bus.js.consumer_info(spec.stream, spec.name)
        except NotFoundError:
            await self.bus.js.add_consumer(spec.stream, config)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.spec.name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        spec = self.spec
        await self.declare()
        pull = self.transport.puller(spec.stream, spec.name, spec.batch_size)
        await pull.start()
        lag = CONSUMER_LAG.labels(self.service, spec.name)
        # Batches taken and not handled yet; each worker handles one at a time.
        queue: asyncio.Queue[list[Msg]] = asyncio.Queue(maxsize=1)
        workers = [
            asyncio.create_task(self._work(queue), name=f"consumer-{spec.name}-{n}")
            for n in range(spec.concurrency if spec.concurrency > 1 else 0)
        ]
        try:
            while not self._stopping:
                try:
                    msgs = await pull.take(spec.batch_size, 1.0, spec.max_batch_bytes)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("consumer.fetch_failed", consumer=spec.name, error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                if not msgs:
                    continue
                with contextlib.suppress(ValueError):
                    lag.set(self.transport.info(msgs[-1]).num_pending)
                if spec.concurrency == 1:
                    await self._process_logged(msgs)
                else:
                    await queue.put(msgs)
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            # Deliveries pulled ahead and not handled go back at once, not after ack_wait.
            left = await pull.stop()
            while not queue.empty():
                left += queue.get_nowait()
            with contextlib.suppress(Exception):
                for msg in left:
                    await self.transport.nak(msg)

    async def _work(self, queue: asyncio.Queue[list[Msg]]) -> None:
        while True:
            msgs = await queue.get()
            await self._process_logged(msgs)

    async def _process_logged(self, msgs: list[Msg]) -> None:
        try:
            await self.process(msgs)
        except Exception as exc:
            # E.g. a dead letter that cannot be published: the unacked messages come back
            # after ack_wait, but the runner itself must not die silently.
            log.error(
                "consumer.batch_failed",
                consumer=self.spec.name,
                error=f"{type(exc).__name__}: {exc}",
            )
            await asyncio.sleep(0.5)

    async def process(self, msgs: Sequence[Msg]) -> None:
        started = time.perf_counter()
        try:
            transport = self.transport
            new = await self._commit_batch([_delivery(transport, m) for m in msgs])
            await transport.ack(msgs)
            self._count("processed", new)
            self._count("duplicate", len(msgs) - new)
        except Exception as exc:
            if len(msgs) == 1:
                await self._failed(msgs[0], exc)
            else:
                for msg in msgs:  # isolate the failing message(s)
                    try:
                        await self.process([msg])
                    except Exception as inner:  # e.g. a dead letter that cannot be published
                        log.error(
                            "consumer.message_isolation_failed",
                            consumer=self.spec.name,
                            error=f"{type(inner).__name__}: {inner}",
                        )
        MESSAGE_LATENCY.labels(self.service, self.spec.name).observe(time.perf_counter() - started)

    async def _commit_batch(self, deliveries: list[_Delivery]) -> int:
        links = [
            Link(trace.get_current_span(extract_context(d.headers)).get_span_context())
            for d in deliveries[:32]
        ]
        with self._tracer.start_as_current_span(
            f"consume {self.spec.name}", kind=SpanKind.CONSUMER, links=links
        ) as span:
            span.set_attribute("messaging.batch.message_count", len(deliveries))
            async with self.db.session() as session:
                fresh = await self._claim(session, deliveries)
                if fresh:
                    # Only new messages are decoded; an undecodable one fails the batch, and
                    # alone (isolated) it is dead-lettered at once.
                    decode = self.spec.decode
                    messages = [
                        Message(d.msg_id, d.subject, decode(d.data), d.num_delivered) for d in fresh
                    ]
                    await self.spec.handler(session, messages)
                    # Before the commit: once committed, a redelivery is a duplicate and
                    # would never publish them.
                    await self._dead_letter_items(fresh, messages)
            return len(fresh)

    async def _claim(self, session: AsyncSession, deliveries: list[_Delivery]) -> list[_Delivery]:
        unique = {d.msg_id: d for d in deliveries}
        params = {"consumer": self.spec.name, "msg_ids": list(unique)}
        claimed = set((await session.execute(self._claim_stmt, params)).scalars())
        return [d for m, d in unique.items() if m in claimed]

    async def _failed(self, msg: Msg, exc: Exception) -> None:
        delivery = _delivery(self.transport, msg)
        poison = isinstance(exc, Undecodable)
        if not poison and await self._database_unreachable():
            # Not the message's fault: never count an outage towards dead-lettering.
            log.warning(
                "consumer.database_unreachable",
                consumer=self.spec.name,
                msg_id=delivery.msg_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            self._count("retried", 1)
            await self.transport.nak(msg, self.spec.retry_max_s)
            return
        if poison or delivery.num_delivered >= self.spec.max_deliver:
            await self._dead_letter(msg, delivery, exc)
            return
        delay = min(
            self.spec.retry_max_s, self.spec.retry_base_s * 2 ** (delivery.num_delivered - 1)
        )
        log.warning(
            "consumer.message_failed",
            consumer=self.spec.name,
            msg_id=delivery.msg_id,
            attempt=delivery.num_delivered,
            retry_in_s=delay,
            error=f"{type(exc).__name__}: {exc}",
        )
        self._count("retried", 1)
        await self.transport.nak(msg, delay)

    async def _database_unreachable(self) -> bool:
        try:
            await asyncio.wait_for(self.db.ping(), timeout=2.0)
        except Exception:
            return True
        return False

    def _dead_letter_headers(self, delivery: _Delivery, reason: str) -> dict[str, str]:
        return {
            **delivery.headers,
            MSG_ID_HEADER: f"dlq:{self.spec.name}:{delivery.msg_id}",
            "Cortex-Dlq-Reason": reason,
            "Cortex-Dlq-Consumer": self.spec.name,
            "Cortex-Dlq-Original-Subject": delivery.subject,
            "Cortex-Dlq-Deliveries": str(delivery.num_delivered),
        }

    async def _publish_dead_letter(self, delivery: _Delivery, headers: dict[str, str]) -> None:
        await self.bus.js.publish(
            f"{DLQ_PREFIX}.{self.spec.stream.lower()}.{self.spec.name}",
            delivery.data,
            headers=headers,
        )

    async def _dead_letter(self, msg: Msg, delivery: _Delivery, exc: Exception) -> None:
        reason = _header_text(f"{type(exc).__name__}: {exc}")
        await self._publish_dead_letter(delivery, self._dead_letter_headers(delivery, reason))
        await self.transport.term(msg)
        self._count("dead_lettered", 1)
        log.error(
            "consumer.dead_lettered",
            consumer=self.spec.name,
            msg_id=delivery.msg_id,
            subject=delivery.subject,
            reason=reason,
        )

    async def _dead_letter_items(
        self, deliveries: Sequence[_Delivery], messages: Sequence[Message[Any]]
    ) -> None:
        """Each rejected item: the whole message's bytes, with the item named in
        ``Cortex-Dlq-Item`` (a replay must not double the other items' effects: the handler's
        own idempotency, since a replay is a new message to the inbox)."""
        for delivery, message in zip(deliveries, messages, strict=True):
            for rejected in message.rejected:
                item, reason = _header_text(rejected.item), _header_text(rejected.reason)
                headers = self._dead_letter_headers(delivery, reason)
                headers[MSG_ID_HEADER] = f"dlq:{self.spec.name}:{delivery.msg_id}:{item}"
                headers["Cortex-Dlq-Item"] = item
                await self._publish_dead_letter(delivery, headers)
                self._count("item_dead_lettered", 1)
                log.error(
                    "consumer.item_dead_lettered",
                    consumer=self.spec.name,
                    msg_id=delivery.msg_id,
                    subject=delivery.subject,
                    item=item,
                    reason=reason,
                )

    def _count(self, outcome: str, n: int) -> None:
        if n:
            MESSAGES_PROCESSED.labels(self.service, self.spec.name, outcome).inc(n)
