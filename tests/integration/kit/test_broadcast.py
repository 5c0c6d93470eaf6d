"""Broadcasts on real NATS: every listener hears each message decoded; an undecodable one or a
failing handler is dropped, and the next message is still heard."""

from __future__ import annotations

import asyncio

from cortex_kit.messaging.broadcast import Broadcast, Listening
from cortex_kit.messaging.bus import MSG_ID_HEADER, Bus
from cortex_kit.messaging.handlers import Message, Undecodable

from .conftest import holds, wait_until


def text(data: bytes) -> str:
    if data == b"garbled":
        raise Undecodable("garbled")
    return data.decode()


async def test_each_listener_hears_every_message_and_bad_ones_are_dropped(bus: Bus) -> None:
    heard: dict[str, list[tuple[str, str]]] = {"a": [], "b": []}

    def spec(name: str) -> Broadcast[str]:
        async def handle(message: Message[str]) -> None:
            if message.payload == "boom":
                raise RuntimeError("the handler fails")
            heard[name].append((message.id, message.payload))

        return Broadcast(name, "b.note.*", text, handle)

    listening = Listening()
    await listening.listen(bus, spec("a"))
    await listening.listen(bus, spec("b"))
    try:
        for data in (b"garbled", b"boom", b"hello"):
            await bus.nc.publish("b.note.x", data, headers={MSG_ID_HEADER: "m-1"})
        await wait_until(holds(lambda: all(heard.values())), "both listeners heard hello")
    finally:
        await listening.close()
    await bus.nc.publish("b.note.x", b"after close")
    await asyncio.sleep(0.1)
    assert heard == {"a": [("m-1", "hello")], "b": [("m-1", "hello")]}
