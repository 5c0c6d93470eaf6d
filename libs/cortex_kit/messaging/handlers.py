"""What a message handler sees: typed messages, decoded at the kit's edge.

A consumer (``ConsumerSpec``) or a broadcast (``Broadcast``) names a decoder, bytes → ``T``,
and a handler of ``Message[T]``. The kit decodes each delivery before the handler runs; a
decoder that raises ``Undecodable`` sends the message to the dead-letter stream with its reason
(never retried). A handler never sees NATS, so it is tested with typed messages alone
(``cortex_kit.testing.handlers``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeAlias, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class Undecodable(Exception):
    """Raised by a decoder (or a handler) for a message that can never succeed — malformed,
    an unknown type: it is dead-lettered at once with this reason, not retried."""


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """One item of a message (e.g. one event of a batch) its handler could not use."""

    item: str
    reason: str


@dataclass(frozen=True, slots=True)
class Message(Generic[T]):
    """One delivery, decoded: its id (the envelope id, ``Nats-Msg-Id``), subject, payload and
    how many times it has been delivered (1 the first time)."""

    id: str
    subject: str
    payload: T
    delivered: int = 1
    rejected: list[RejectedItem] = field(default_factory=list, compare=False, repr=False)

    def reject_item(self, item: str, reason: str) -> None:
        """Dead-letter one item of this message with its reason, and go on with the others.

        For messages that carry many items (a batch of events): the handler stores the good
        ones, and the bad one does not take the rest down with it. ``item`` names it within
        the message (an index, a version id). Its dead letter is published before the batch
        commits, with a ``Nats-Msg-Id`` of message and item, so a retried batch rejecting it
        again publishes nothing new (within the stream's duplicate window).
        """
        self.rejected.append(RejectedItem(item, reason))


Decoder: TypeAlias = Callable[[bytes], T]
"""Bytes of a delivery → its typed payload; raises ``Undecodable`` for what can never be one."""
BatchHandler: TypeAlias = Callable[[AsyncSession, Sequence[Message[T]]], Awaitable[None]]
"""Applies the effects of a batch of new messages in the batch's transaction (the kit commits,
then acks)."""
MessageHandler: TypeAlias = Callable[[Message[T]], Awaitable[None]]
"""Reacts to one broadcast message (no transaction, no ack)."""


def raw_bytes(data: bytes) -> bytes:
    """The decoder of handlers that want the bytes themselves."""
    return data
