"""The JetStream transport on nats-py's public API only: ``publish_async``, ``fetch``, ``ack``.

Nothing here depends on how nats-py is built inside, so a nats-py upgrade cannot break it
unnoticed; the bus benchmark measures it beside the hand-written ``fast`` transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import Sequence
from typing import Final

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import BadHeaderError, BadSubjectError, MaxPayloadError, NotJSMessageError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck

from cortex_kit.messaging.transport import (
    MSG_ID_HEADER,
    DeliveryInfo,
    OutgoingMessage,
    PullError,
    take_ready,
)

# As nats-py validates them: no whitespace in a subject, header names are HTTP tokens.
_SUBJECT_INVALID: Final = re.compile(r"[ \t\r\n]")
_HEADER_KEY: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
FETCH_TIMEOUT_S = 1.0  # of one fetch: the longest a stopping puller waits for it to end
_RETRY_PAUSE_S = 0.5  # after a failed fetch, so that a lasting cause is no busy loop


class PublicTransport:
    """``Transport`` on nats-py's public JetStream API."""

    def __init__(self, nc: NATS, js: JetStreamContext) -> None:
        self._nc = nc
        self._js = js

    async def start(self) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage], timeout_s: float) -> list[bool]:
        # Own futures rather than ``publish_async_completed()``: that waits for every publish of
        # the connection, other callers' too.
        js = self._js
        futures: list[asyncio.Future[PubAck]] = []
        try:
            for msg in messages:
                self._refuse_unpublishable(msg)
                headers = {**msg.headers, MSG_ID_HEADER: msg.msg_id}
                futures.append(await js.publish_async(msg.subject, msg.data, headers=headers))
            if futures:
                await asyncio.wait(futures, timeout=timeout_s)
            return [f.done() and not f.cancelled() and f.exception() is None for f in futures]
        finally:
            late = [f for f in futures if not f.done()]
            for future in late:
                future.cancel()
            if late:
                # Their done callbacks (which free nats-py's pending slots) run on the next turn.
                await asyncio.sleep(0)

    def _refuse_unpublishable(self, msg: OutgoingMessage) -> None:
        """Raise as ``Client.publish`` would, before ``publish_async``: when that publish raises,
        nats-py (2.16) keeps the message's future, never settled, among its pending ones."""
        if not msg.subject or _SUBJECT_INVALID.search(msg.subject):
            raise BadSubjectError
        if len(msg.data) > self._nc.max_payload:
            raise MaxPayloadError
        for name in msg.headers:
            if name.strip() and not _HEADER_KEY.fullmatch(name.strip()):
                raise BadHeaderError(name)

    @property
    def awaiting_acks(self) -> int:
        return self._js.publish_async_pending()

    def puller(self, stream: str, durable: str, batch_size: int) -> PublicPull:
        return PublicPull(self._js, stream, durable, batch_size)

    def info(self, msg: Msg) -> DeliveryInfo:
        try:
            metadata = msg.metadata
        except NotJSMessageError as exc:
            raise ValueError(f"not a JetStream delivery: reply subject {msg.reply!r}") from exc
        return DeliveryInfo(
            metadata.stream,
            metadata.num_delivered,
            metadata.sequence.stream,
            metadata.num_pending,
        )

    async def ack(self, msgs: Sequence[Msg]) -> None:
        for msg in msgs:
            await msg.ack()

    async def nak(self, msg: Msg, delay_s: float | None = None) -> None:
        await msg.nak(delay=delay_s)

    async def term(self, msg: Msg) -> None:
        await msg.term()


class PublicPull:
    """A pull subscription fetched one batch ahead by a task, so that the next batch arrives
    while the current one is handled. Stopping lets a fetch under way end (within
    ``FETCH_TIMEOUT_S``) rather than cancel it, so nothing it received is left unreleased."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str, batch_size: int) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._batch_size = batch_size
        self._ready: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._problem: str | None = None
        self._stopping = False
        self._fetching = False
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self._js.pull_subscribe_bind(self._durable, stream=self._stream)
        self._task = asyncio.create_task(self._fetch_ahead(self._sub), name=f"pull-{self._durable}")

    async def stop(self) -> list[Msg]:
        self._stopping = True
        self._room.set()
        if self._task is not None:
            if not self._fetching:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        left = list(self._ready)
        self._ready.clear()
        return left

    async def take(self, max_msgs: int, wait_s: float, max_bytes: int | None = None) -> list[Msg]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            if self._problem is not None:
                problem, self._problem = self._problem, None
                raise PullError(problem)
            if self._ready:
                taken = take_ready(self._ready, max_msgs, max_bytes)
                self._room.set()
                return taken
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()

    async def _fetch_ahead(self, sub: JetStreamContext.PullSubscription) -> None:
        ready = self._ready
        while not self._stopping:
            wanted = 2 * self._batch_size - len(ready)
            if wanted < self._batch_size:
                self._room.clear()
                await self._room.wait()
                continue
            self._fetching = True
            try:
                msgs = await sub.fetch(wanted, timeout=FETCH_TIMEOUT_S)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:
                # E.g. no such consumer or stream: the runner logs it and asks again later.
                self._problem = f"pull request failed: {type(exc).__name__}: {exc}"
                self._arrived.set()
                self._fetching = False
                await asyncio.sleep(_RETRY_PAUSE_S)
                continue
            finally:
                self._fetching = False
            ready.extend(msgs)
            self._arrived.set()
