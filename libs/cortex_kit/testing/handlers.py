"""Message handlers without NATS: typed messages fed to a consumer's or a broadcast's handler
as the kit's runner would feed them, so that a handler's logic is tested on its own.

    spec = delivery_consumer(settings)
    async with db.session() as session:  # the batch's transaction: commits at the end
        dead = await run_handler(spec, [received(spec, encode(envelope))], session)
    assert dead == []

What the runner adds around a handler — inbox dedupe across batches, ack after commit,
retries, dead letters on NATS — is the kit's and is tested once, in the kit's own suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.messaging.broadcast import Broadcast
from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.messaging.handlers import Message

T = TypeVar("T")


@dataclass(frozen=True)
class ItemDeadLetter:
    """An item a handler rejected (``Message.reject_item``): the runner would dead-letter it."""

    msg_id: str
    item: str
    reason: str


def message(
    payload: T, *, id: str | None = None, subject: str = "test", delivered: int = 1
) -> Message[T]:
    """A message carrying ``payload`` (a fresh id unless given), as a handler receives it."""
    return Message(id or f"test-{uuid.uuid4()}", subject, payload, delivered)


def received(
    spec: ConsumerSpec[T] | Broadcast[T],
    data: bytes,
    *,
    id: str | None = None,
    subject: str = "test",
    delivered: int = 1,
) -> Message[T]:
    """``data`` decoded by ``spec``'s decoder, as the kit's edge decodes it (so this raises
    ``Undecodable`` where the runner would dead-letter the message)."""
    return message(spec.decode(data), id=id, subject=subject, delivered=delivered)


async def run_handler(
    spec: ConsumerSpec[T], messages: Iterable[Message[T]], session: AsyncSession
) -> list[ItemDeadLetter]:
    """Run ``spec``'s batch handler on ``messages`` as one batch in ``session`` (the caller's
    transaction stands for the batch's: commit it to see what a committed batch does).

    As the runner does, a batch holds each message id once and every attempt starts with no
    rejected items. Returns the items the handler rejected, in order.
    """
    batch = [Message(m.id, m.subject, m.payload, m.delivered) for m in _unique(messages)]
    await spec.handler(session, batch)
    return [ItemDeadLetter(m.id, r.item, r.reason) for m in batch for r in m.rejected]


async def run_broadcast(spec: Broadcast[T], messages: Iterable[Message[T]]) -> None:
    """Run ``spec``'s handler on each of ``messages``, in order, as the listener would."""
    for one in messages:
        await spec.handler(one)


def _unique(messages: Iterable[Message[T]]) -> list[Message[T]]:
    return list({m.id: m for m in messages}.values())
