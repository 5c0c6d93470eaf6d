"""The hand-written JetStream transport: nats-py's client with protocol commands of our own.

Faster than the public API where a batch of hundreds of messages goes out or comes in at once
(docs/benchmarks.md, bus): every publish of a batch is one ``HPUB`` command built in bulk
(``cortex_kit.messaging.wire``) whose ack comes to one wildcard subscription (a dict lookup, no
future, no JSON parse); acks of a batch are one command of ``PUB``s; pull requests are our own,
two batches ahead, collected by one subscription callback; metadata is split from the ack
subject. It touches nats-py internals (``Client._send_command``, ``Client._flush_pending``,
``Client._flush_queue``, ``Client._parse_header_lines``, ``Subscription._pending_queue``);
tests/unit/kit/test_nats_internals.py pins each, so a nats-py upgrade that moves one fails CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

from cortex_kit.messaging.transport import (
    MSG_ID_HEADER,
    DeliveryInfo,
    OutgoingMessage,
    PullError,
    take_ready,
)
from cortex_kit.messaging.wire import Writer

PULL_EXPIRES_S = 5.0  # lifetime of one pull request on the server
_PULL_GRACE_S = 1.0  # after which a pull request whose end never came is given up
_ACK = b"+ACK"
_PUB_ACK_START = b'{"stream":'


class _AckBatch:
    """Acks awaited by one chunk of ``publish_batch``: a result per message, one future."""

    __slots__ = ("done", "remaining", "results")

    def __init__(self, size: int) -> None:
        self.results: list[bool | None] = [None] * size
        self.remaining = size
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(self, index: int, ok: bool) -> None:
        if self.results[index] is None:
            self.results[index] = ok
            self.remaining -= 1
            if not self.remaining and not self.done.done():
                self.done.set_result(None)


def _acknowledged(msg: Msg) -> bool:
    """Whether a JetStream publish reply is a PubAck (a duplicate's too), not an error.

    A PubAck is ``{"stream":…,"seq":…[,"duplicate":true]}``; an error ``{"error":{…}}``; "no
    responders" (no stream for the subject) an empty message with a 503 status header.
    """
    data = msg.data
    if data.startswith(_PUB_ACK_START) and b'"seq":' in data and b'"error"' not in data:
        return True
    if not data.startswith(b"{"):
        return False
    try:  # rare: e.g. a stream named "error" — decide on the parsed reply
        reply = json.loads(data)
    except ValueError:
        return False
    return isinstance(reply, dict) and "error" not in reply and "seq" in reply


class FastTransport:
    """``Transport`` on hand-written protocol commands (see the module docstring)."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._writer = Writer(nc)
        # JetStream publish acks: reply subject "<prefix><token>" → (its batch, its index).
        self._ack_prefix: str | None = None
        self._ack_token_at = 0
        self._ack_sub: Subscription | None = None
        self._awaiting_ack: dict[str, tuple[_AckBatch, int]] = {}
        self._next_token = 0

    async def start(self) -> None:
        self._ack_prefix = f"{self._nc.new_inbox()}."
        self._ack_token_at = len(self._ack_prefix)
        # One wildcard subscription for every publish ack; resubscribed after a reconnect.
        self._ack_sub = await self._nc.subscribe(f"{self._ack_prefix}*", cb=self._on_ack)

    @property
    def awaiting_acks(self) -> int:
        return len(self._awaiting_ack)

    async def publish(self, messages: Sequence[OutgoingMessage], timeout_s: float) -> list[bool]:
        nc = self._nc
        if self._ack_prefix is None:
            raise RuntimeError("transport not started")
        if not messages:
            return []
        batch = _AckBatch(len(messages))
        first = self._next_token
        self._next_token = first + len(messages)
        waiting = self._awaiting_ack
        prefix = self._ack_prefix
        try:
            writer = self._writer
            if writer.direct:
                commands = []
                for index, msg in enumerate(messages):
                    token = str(first + index)
                    waiting[token] = (batch, index)
                    commands.append(
                        writer.hpub(
                            msg.subject,
                            prefix + token,
                            msg.data,
                            msg.headers,
                            MSG_ID_HEADER,
                            msg.msg_id,
                        )
                    )
                await writer.send(commands, size=sum(len(m.data) for m in messages))
            else:
                for index, msg in enumerate(messages):
                    token = str(first + index)
                    waiting[token] = (batch, index)
                    headers = {**msg.headers, MSG_ID_HEADER: msg.msg_id}
                    await nc.publish(msg.subject, msg.data, reply=prefix + token, headers=headers)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await batch.done
        finally:
            if batch.remaining:
                # Timed out, cancelled or failed part-way: forget every token of this chunk, so
                # a late ack finds nothing and nothing accumulates.
                for token_no in range(first, first + len(messages)):
                    waiting.pop(str(token_no), None)
                if not batch.done.done():
                    batch.done.cancel()
        return [ok is True for ok in batch.results]

    async def _on_ack(self, msg: Msg) -> None:
        entry = self._awaiting_ack.pop(msg.subject[self._ack_token_at :], None)
        if entry is not None:
            batch, index = entry
            batch.settle(index, _acknowledged(msg))

    def puller(self, stream: str, durable: str, batch_size: int) -> FastPull:
        return FastPull(self._nc, stream, durable, batch_size)

    def info(self, msg: Msg) -> DeliveryInfo:
        return DeliveryInfo(*_ack_fields(msg.reply))

    async def ack(self, msgs: Sequence[Msg]) -> None:
        # Plain publishes to the $JS.ACK subjects, queued as one command and written together
        # by the client's flusher once this task yields.
        await self._writer.publish_each([msg.reply for msg in msgs], _ACK)

    async def nak(self, msg: Msg, delay_s: float | None = None) -> None:
        await msg.nak(delay=delay_s)

    async def term(self, msg: Msg) -> None:
        await msg.term()


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


class FastPull:
    """The deliveries of one durable pull consumer, pulled ahead on one inbox subscription.

    Pull requests (``$JS.API.CONSUMER.MSG.NEXT``) ask for up to two batches ahead, so the next
    batch arrives while the current one is being handled; deliveries are collected by one
    subscription callback, without a task, a future or a uuid per message. A request that is
    not fully served ends with a status message (408 when it expires, 409 …) that says how many
    of its messages were not delivered; a request whose end never came (a reconnect, a restarted
    server) is given up after its expiry plus a grace period.
    """

    def __init__(self, nc: NATS, stream: str, durable: str, batch_size: int) -> None:
        self._nc = nc
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
        nc = self._nc
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
                return take_ready(ready, max_msgs, max_bytes)
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
        nc = self._nc
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
