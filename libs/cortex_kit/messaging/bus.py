"""NATS connection with JetStream: stream declaration, publishing with dedupe ids and traces."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from cortex_kit.logs import get_logger
from cortex_kit.messaging.fast_transport import FastTransport
from cortex_kit.messaging.public_transport import PublicTransport
from cortex_kit.messaging.transport import (
    DEFAULT_TRANSPORT,
    MSG_ID_HEADER,
    OutgoingMessage,
    Transport,
    TransportName,
)
from cortex_kit.messaging.wire import Client

__all__ = ["MSG_ID_HEADER", "Bus", "OutgoingMessage", "StreamDeclaration"]

log = get_logger("cortex.bus")
MAX_IN_FLIGHT = 4000  # messages of one publish_batch awaiting their JetStream acks at a time


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


class Bus:
    """One NATS connection per process; reconnects forever, never crashes the process."""

    def __init__(
        self, url: str, *, name: str, transport: TransportName = DEFAULT_TRANSPORT
    ) -> None:
        self.url = url
        self.name = name
        self.transport_name: TransportName = transport
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._transport: Transport | None = None

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
                # The fast transport's client parses headers faster (a nats-py internal).
                nc = Client() if self.transport_name == "fast" else NATS()
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
        self._js = self._nc.jetstream(publish_async_max_pending=MAX_IN_FLIGHT)
        transport: Transport = (
            FastTransport(self._nc)
            if self.transport_name == "fast"
            else PublicTransport(self._nc, self._js)
        )
        await transport.start()
        self._transport = transport

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
    def transport(self) -> Transport:
        """Publishing, pulling and settling deliveries on this connection."""
        if self._transport is None:
            raise RuntimeError("bus not connected")
        return self._transport

    @property
    def awaiting_acks(self) -> int:
        """Published messages whose JetStream ack is still awaited (0 between batches)."""
        return self.transport.awaiting_acks

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

        At most ``MAX_IN_FLIGHT`` messages await their acks at a time; each such chunk waits at
        most ``timeout_s``. A message whose ack did not come in time, or came as an error, is
        ``False``; nothing of a batch is left behind when it ends, times out or raises part-way.
        """
        transport = self.transport
        results: list[bool] = []
        for start in range(0, len(messages), MAX_IN_FLIGHT):
            chunk = messages[start : start + MAX_IN_FLIGHT]
            results += await transport.publish(chunk, timeout_s)
        return results

    async def close(self) -> None:
        # Not drain(): it waits up to 30 s for pull subscriptions. Unacked messages are simply
        # redelivered, and publishes were already acknowledged by JetStream.
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            await self._nc.close()
