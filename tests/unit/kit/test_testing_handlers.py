"""The in-memory harness feeds a handler what the kit's runner would: one message per id,
each attempt with no rejected items, and reports the items the handler rejected."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.messaging.handlers import Message, Undecodable
from cortex_kit.testing.handlers import ItemDeadLetter, message, received, run_handler


def words(data: bytes) -> list[str]:
    if not data:
        raise Undecodable("no words")
    return data.decode().split()


def spec_seeing(seen: list[list[str]]) -> ConsumerSpec[list[str]]:
    async def handle(_session: AsyncSession, batch: Sequence[Message[list[str]]]) -> None:
        for one in batch:
            seen.append(one.payload)
            for n, word in enumerate(one.payload):
                if word == "bad":
                    one.reject_item(str(n), f"word {n} is bad")

    return ConsumerSpec("c", "S", ["s.>"], words, handle)


async def test_the_items_a_handler_rejects_are_its_dead_letters() -> None:
    spec = spec_seeing([])
    run = await run_handler(spec, [received(spec, b"good bad good", id="m-1")], AsyncSession())
    assert run == [ItemDeadLetter("m-1", "1", "word 1 is bad")]


async def test_a_message_id_appears_once_per_batch_and_every_run_starts_clean() -> None:
    seen: list[list[str]] = []
    spec = spec_seeing(seen)
    again = message(["bad"], id="m-1")
    first = await run_handler(spec, [again, again], AsyncSession())
    second = await run_handler(spec, [again], AsyncSession())
    assert seen == [["bad"], ["bad"]]
    assert first == second == [ItemDeadLetter("m-1", "0", "word 0 is bad")]


def test_bytes_the_decoder_refuses_are_undecodable() -> None:
    with pytest.raises(Undecodable, match="no words"):
        received(spec_seeing([]), b"")
