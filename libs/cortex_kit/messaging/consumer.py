"""Durable pull consumers: inbox dedupe, ack after commit, retry with backoff, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header
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
PULL_EXPIRES_S = 5.0  # lifetime of one pull request on the server
_PULL_GRACE_S = 1.0  # after which a pull request whose end never came is given up
_ACK = b"+ACK"


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


def _ack_fields(reply: str) -> tuple[str, int, int, int]:
    """(stream, times delivered, stream sequence, pending) of a JetStream ``$JS.ACK`` subject.

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>``, or
    with ``<domain>.<account hash>`` after ``$JS.ACK`` (and a random token at the end) in the
    newer form: a split instead of nats-py's ``Msg.metadata`` (a datetime and dataclasses).
    """
    tokens = reply.split(".")
    count = len(tokens)
    if count == 9:
        at = 2
    elif count >= 11:
        at = 4
    else:
        at = -1
    if at < 0 or tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream delivery: reply subject {reply!r}")
    return tokens[at], int(tokens[at + 2]), int(tokens[at + 3]), int(tokens[at + 6])


def _delivery(msg: Msg) -> _Delivery:
    headers = msg.headers or {}
    stream, delivered, stream_seq, _ = _ack_fields(msg.reply)
    msg_id = headers.get(MSG_ID_HEADER) or f"{stream}:{stream_seq}"
    return _Delivery(msg_id, msg.subject, msg.data, headers, delivered)


class PullError(Exception):
    """JetStream answered a pull request with an error status (e.g. no such consumer)."""


class _Pull:
    """The deliveries of one durable pull consumer, pulled ahead on one inbox subscription.

    Pull requests (``$JS.API.CONSUMER.MSG.NEXT``) ask for up to two batches ahead, so the next
    batch arrives while the current one is being handled; deliveries are collected by one
    subscription callback, without a task, a future or a uuid per message. A request that is
    not fully served ends with a status message (408 when it expires, 409 …) that says how many
    of its messages were not delivered; a request whose end never came (a reconnect, a restarted
    server) is given up after its expiry plus a grace period.
    """

    def __init__(self, bus: Bus, stream: str, durable: str, batch_size: int) -> None:
        self._bus = bus
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._batch_size = batch_size
        self._ready: deque[Msg] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._requested = 0  # asked for, and neither delivered nor ended by a status
        self._requests_end_at = 0.0
        self._request_no = 0
        self._reconnects = 0
        self._problem: str | None = None
        self._inbox = ""
        self._sub: Subscription | None = None

    async def start(self) -> None:
        nc = self._bus.nc
        self._inbox = nc.new_inbox()
        self._reconnects = nc.stats["reconnects"]
        self._sub = await nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)

    async def stop(self) -> list[Msg]:
        """Unsubscribe; returns the deliveries received and not taken (to be released)."""
        if self._sub is not None:
            # Deliveries already received but not yet dispatched to ``_on_msg`` (the callback
            # task lags under load) would be dropped with the subscription: take them too.
            queue = getattr(self._sub, "_pending_queue", None)
            while queue is not None and not queue.empty():
                msg = queue.get_nowait()
                if isinstance(msg, Msg) and msg.reply:
                    self._ready.append(msg)
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        left = list(self._ready)
        self._ready.clear()
        return left

    async def take(self, max_msgs: int, wait_s: float, max_bytes: int | None = None) -> list[Msg]:
        """Up to ``max_msgs`` deliveries (and, past the first, ``max_bytes`` of payload), as
        soon as there is one; [] after ``wait_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        ready = self._ready
        while True:
            if self._problem is not None:
                problem, self._problem = self._problem, None
                raise PullError(problem)
            await self._request_more(loop.time())
            if ready:
                count = min(max_msgs, len(ready))
                if max_bytes is None:
                    return [ready.popleft() for _ in range(count)]
                taken = [ready.popleft()]
                size = len(taken[0].data)
                while ready and len(taken) < count and size + len(ready[0].data) <= max_bytes:
                    size += len(ready[0].data)
                    taken.append(ready.popleft())
                return taken
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._waiter = waiter = loop.create_future()
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, _PULL_GRACE_S)):
                        await waiter
            finally:
                self._waiter = None

    async def _request_more(self, now: float) -> None:
        nc = self._bus.nc
        if nc.stats["reconnects"] != self._reconnects or now >= self._requests_end_at:
            # Requests of an old connection, or all expired: none will deliver anything more.
            self._reconnects = nc.stats["reconnects"]
            self._requested = 0
        wanted = 2 * self._batch_size - self._requested - len(self._ready)
        if wanted < self._batch_size or not nc.is_connected:
            return
        self._request_no += 1
        request = b'{"batch":%d,"expires":%d}' % (wanted, int(PULL_EXPIRES_S * 1e9))
        await nc.publish(self._subject, request, reply=f"{self._inbox}.{self._request_no}")
        self._requested += wanted
        self._requests_end_at = now + PULL_EXPIRES_S + _PULL_GRACE_S

    async def _on_msg(self, msg: Msg) -> None:
        if msg.reply:  # a delivery: its reply subject is its $JS.ACK subject
            self._ready.append(msg)
            if self._requested:
                self._requested -= 1
        else:
            self._on_status(msg.headers or {})
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_status(self, headers: dict[str, str]) -> None:
        status = headers.get("Status", "")
        if status == "100":  # idle heartbeat
            return
        undelivered = headers.get("Nats-Pending-Messages", "")
        if undelivered.isdigit():
            self._requested = max(0, self._requested - int(undelivered))
        else:
            self._requested = 0  # cannot tell which request ended: ask again if short
        if status in ("404", "408"):  # no messages, or the request expired: nothing wrong
            return
        # E.g. 503 (no such consumer or stream), 409 (a leadership change, a limit of the
        # consumer exceeded): the runner logs it and asks again after a pause, so a lasting
        # cause cannot make it ask in a busy loop. nats-py keys the description with its (str)
        # enum member, not the plain string.
        description = str(headers.get(Header.DESCRIPTION, "")).strip()
        self._problem = f"pull request failed: {status or 'no status'} {description}"


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
        pull = _Pull(self.bus, spec.stream, spec.name, spec.batch_size)
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
                    lag.set(_ack_fields(msgs[-1].reply)[3])
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
                    await msg.nak()

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
            new = await self._commit_batch([_delivery(m) for m in msgs])
            await self._ack_all(msgs)
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

    async def _ack_all(self, msgs: Sequence[Msg]) -> None:
        # Plain publishes to the $JS.ACK subjects, queued as one command and written together
        # by the client's flusher once this task yields.
        await self.bus.writer.publish_each([msg.reply for msg in msgs], _ACK)

    async def _failed(self, msg: Msg, exc: Exception) -> None:
        delivery = _delivery(msg)
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
            await msg.nak(delay=self.spec.retry_max_s)
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
        await msg.nak(delay=delay)

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
        await msg.term()
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
