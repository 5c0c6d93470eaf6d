"""What the bus and the consumers need of NATS JetStream, behind one small protocol.

Two implementations: ``public`` (``cortex_kit.messaging.public_transport``) on nats-py's public
API only, and ``fast`` (``cortex_kit.messaging.fast_transport``), hand-written protocol on
nats-py internals (bulk ``HPUB``/``PUB`` commands, one wildcard ack subscription, its own pull
requests). A process picks one with ``CORTEX_<PROCESS>_NATS_TRANSPORT``; the bus benchmark
measures both in one run (docs/benchmarks.md, bus), which is why ``fast`` is the default.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from nats.aio.msg import Msg

TransportName = Literal["public", "fast"]
DEFAULT_TRANSPORT: Final[TransportName] = "fast"
MSG_ID_HEADER: Final = "Nats-Msg-Id"


@dataclass(frozen=True)
class OutgoingMessage:
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """What the runner reads of a JetStream delivery's metadata."""

    stream: str
    num_delivered: int
    stream_seq: int
    num_pending: int


class PullError(Exception):
    """JetStream answered a pull request with an error (e.g. no such consumer)."""


class Puller(Protocol):
    """The deliveries of one durable pull consumer, pulled ahead of the runner."""

    async def start(self) -> None: ...

    async def take(self, max_msgs: int, wait_s: float, max_bytes: int | None = None) -> list[Msg]:
        """Up to ``max_msgs`` deliveries (and, past the first, ``max_bytes`` of payload), as
        soon as there is one; [] after ``wait_s``; raises ``PullError``."""
        ...

    async def stop(self) -> list[Msg]:
        """Stop pulling; returns the deliveries received and not taken (to be released)."""
        ...


class Transport(Protocol):
    """Publishing with JetStream acks, pulling, and settling deliveries on one connection."""

    async def start(self) -> None: ...

    async def publish(self, messages: Sequence[OutgoingMessage], timeout_s: float) -> list[bool]:
        """Publish with ``Nats-Msg-Id`` dedupe; per message, whether JetStream acknowledged it
        within ``timeout_s``. Nothing stays awaited when it returns or raises."""
        ...

    @property
    def awaiting_acks(self) -> int:
        """Published messages whose JetStream ack is still awaited."""
        ...

    def puller(self, stream: str, durable: str, batch_size: int) -> Puller: ...

    def info(self, msg: Msg) -> DeliveryInfo:
        """Raises ``ValueError`` for a message that is no JetStream delivery."""
        ...

    async def ack(self, msgs: Sequence[Msg]) -> None: ...

    async def nak(self, msg: Msg, delay_s: float | None = None) -> None: ...

    async def term(self, msg: Msg) -> None: ...


def take_ready(ready: deque[Msg], max_msgs: int, max_bytes: int | None) -> list[Msg]:
    """Up to ``max_msgs`` of ``ready`` (at least one if any), within ``max_bytes`` past the
    first."""
    count = min(max_msgs, len(ready))
    if max_bytes is None:
        return [ready.popleft() for _ in range(count)]
    taken = [ready.popleft()]
    size = len(taken[0].data)
    while ready and len(taken) < count and size + len(ready[0].data) <= max_bytes:
        size += len(ready[0].data)
        taken.append(ready.popleft())
    return taken
