"""NATS connection with JetStream: stream declaration, publishing with dedupe ids and traces."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from cortex_kit.logs import get_logger
from cortex_kit.messaging.wire import Client, Writer

log = get_logger("cortex.bus")
MSG_ID_HEADER = "Nats-Msg-Id"
MAX_IN_FLIGHT = 4000  # messages of one publish_batch awaiting their JetStream acks at a time
_PUB_ACK_START = b'{"stream":'


class StreamDeclaration(Protocol):
    """What the bus needs to know of a stream (``cortex_contracts.subjects.StreamSpec`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def subjects(self) -> Sequence[str]: ...
    @property
    def max_age_s(self) -> float: ...
    @property
    def duplicate_window_s(self) -> float: ...


@dataclass(frozen=True)
class OutgoingMessage:
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str]


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


class Bus:
    """One NATS connection per process; reconnects forever, never crashes the process."""

    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        self.name = name
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        # JetStream publish acks: reply subject "<prefix><token>" → (its batch, its index).
        self._ack_prefix: str | None = None
        self._ack_token_at = 0
        self._ack_sub: Subscription | None = None
        self._awaiting_ack: dict[str, tuple[_AckBatch, int]] = {}
        self._next_token = 0
        self._writer: Writer | None = None

    async def connect(self, *, wait_s: float = 30.0) -> None:
        async def _disconnected() -> None:
            log.warning("bus.disconnected", url=self.url)

        async def _reconnected() -> None:
            log.info("bus.reconnected", url=self.url)

        async def _error(exc: Exception) -> None:
            log.warning("bus.error", error=str(exc))

        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                nc = Client()
                # nats-py types reconnect_time_wait as int; it is a float of seconds.
                options: dict[str, Any] = {
                    "name": self.name,
                    "max_reconnect_attempts": -1,
                    "reconnect_time_wait": 0.5,
                    "allow_reconnect": True,
                    "disconnected_cb": _disconnected,
                    "reconnected_cb": _reconnected,
                    "error_cb": _error,
                    "pending_size": 64 * 1024 * 1024,
                }
                await nc.connect(self.url, **options)
                self._nc = nc
                break
            except Exception as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise ConnectionError(f"cannot reach NATS at {self.url}: {exc}") from exc
                await asyncio.sleep(0.5)
        self._js = self._nc.jetstream()
        self._writer = Writer(self._nc)
        self._ack_prefix = f"{self._nc.new_inbox()}."
        self._ack_token_at = len(self._ack_prefix)
        # One wildcard subscription for every publish ack; resubscribed after a reconnect.
        self._ack_sub = await self._nc.subscribe(f"{self._ack_prefix}*", cb=self._on_ack)

    @property
    def nc(self) -> NATS:
        if self._nc is None:
            raise RuntimeError("bus not connected")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("bus not connected")
        return self._js

    @property
    def writer(self) -> Writer:
        """Bulk publishing on this connection (JetStream acks, many messages at once)."""
        if self._writer is None:
            raise RuntimeError("bus not connected")
        return self._writer

    @property
    def awaiting_acks(self) -> int:
        """Published messages whose JetStream ack is still awaited (0 between batches)."""
        return len(self._awaiting_ack)

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def ping(self) -> str | None:
        if not self.connected:
            return f"not connected to {self.url}"
        await self.nc.flush(timeout=2)
        return None

    async def ensure_streams(self, streams: Iterable[StreamDeclaration]) -> None:
        """Create or update each stream; safe to call from every replica at every start."""
        for spec in streams:
            config = StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=spec.max_age_s,
                duplicate_window=spec.duplicate_window_s,
            )
            try:
                await self.js.stream_info(spec.name)
                await self.js.update_stream(config)
            except NotFoundError:
                try:
                    await self.js.add_stream(config)
                except Exception:
                    # Another replica may have created it between our two calls.
                    await self.js.stream_info(spec.name)

    async def publish_batch(
        self, messages: Sequence[OutgoingMessage], *, timeout_s: float = 5.0
    ) -> list[bool]:
        """Publish with JetStream acks; returns per-message success (dedupe by ``Nats-Msg-Id``).

        Each message is a core publish whose reply subject is a token under this bus's one
        wildcard ack subscription, so an ack costs a dict lookup instead of a future, a
        subscription and a JSON parse per message. At most ``MAX_IN_FLIGHT`` messages await
        their acks at a time; each such chunk waits at most ``timeout_s``. A message whose ack
        did not come in time, or came as an error, is ``False``; nothing of a batch is left
        behind when it ends, times out or raises part-way.
        """
        results: list[bool] = []
        for start in range(0, len(messages), MAX_IN_FLIGHT):
            chunk = messages[start : start + MAX_IN_FLIGHT]
            results += await self._publish_chunk(chunk, timeout_s)
        return results

    async def _publish_chunk(
        self, messages: Sequence[OutgoingMessage], timeout_s: float
    ) -> list[bool]:
        nc = self.nc
        if self._ack_prefix is None:
            raise RuntimeError("bus not connected")
        if not messages:
            return []
        batch = _AckBatch(len(messages))
        first = self._next_token
        self._next_token = first + len(messages)
        waiting = self._awaiting_ack
        prefix = self._ack_prefix
        try:
            writer = self._writer
            if writer is not None and writer.direct:
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

    async def close(self) -> None:
        # Not drain(): it waits up to 30 s for pull subscriptions. Unacked messages are simply
        # redelivered, and publishes were already acknowledged by JetStream.
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            await self._nc.close()
