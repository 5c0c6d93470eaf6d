"""Broadcasts: messages every replica must see (e.g. "drop your cached copy"), on core NATS.

Not a shared durable consumer — no inbox, no ack, nothing redelivered: what the handler does
must be safe to miss (bounded staleness) and to repeat. Decoded at the kit's edge like a
consumer's messages; an ``Undecodable`` one is logged with its reason and dropped.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from cortex_kit.logs import get_logger
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus
from cortex_kit.messaging.handlers import Decoder, Message, MessageHandler, Undecodable

T = TypeVar("T")
log = get_logger("cortex.broadcast")


@dataclass(frozen=True)
class Broadcast(Generic[T]):
    """A subject every replica listens to, how its payloads decode, and their handler."""

    name: str
    subject: str
    decode: Decoder[T]
    handler: MessageHandler[T]


def decoded(spec: Broadcast[T], msg: Msg) -> Message[T]:
    """``msg`` as its handler sees it (raises ``Undecodable``)."""
    msg_id = (msg.headers or {}).get(MSG_ID_HEADER, "")
    return Message(msg_id, msg.subject, spec.decode(msg.data))


class Listening:
    """The subscriptions of a process's broadcasts, until ``close``."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    async def listen(self, bus: Bus, spec: Broadcast[Any]) -> None:
        async def on_msg(msg: Msg) -> None:
            try:
                message = decoded(spec, msg)
            except Undecodable as exc:
                log.warning("broadcast.undecodable", broadcast=spec.name, reason=str(exc))
                return
            try:
                await spec.handler(message)
            except Exception as exc:  # the next broadcast must still be heard
                log.error(
                    "broadcast.handler_failed",
                    broadcast=spec.name,
                    error=f"{type(exc).__name__}: {exc}",
                )

        self._subs.append(await bus.nc.subscribe(spec.subject, cb=on_msg))

    async def close(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
