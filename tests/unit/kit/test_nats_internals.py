"""Every nats-py internal the fast transport touches exists on the installed nats-py, as used.

The fast transport (``cortex_kit.messaging.fast_transport``, ``wire``) falls back or degrades
quietly where an internal is missing (``Writer.direct``, ``getattr(..., None)``): a nats-py
upgrade that renames one would make it slow or lose pulled-ahead deliveries on stop without an
error. These tests make such an upgrade fail in CI instead. The public transport needs none.
"""

from __future__ import annotations

import asyncio
import inspect

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

from cortex_kit.messaging.wire import Client, Writer


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_client_queues_a_raw_command_with_send_command() -> None:
    assert inspect.iscoroutinefunction(NATS._send_command)
    assert _parameters(NATS._send_command)[:2] == ["self", "cmd"]


def test_the_client_kicks_its_flusher_with_flush_pending() -> None:
    assert inspect.iscoroutinefunction(NATS._flush_pending)
    parameters = inspect.signature(NATS._flush_pending).parameters
    assert all(p.default is not p.empty for name, p in parameters.items() if name != "self")


def test_a_new_client_has_the_flusher_queue_and_the_stats_the_writer_updates() -> None:
    nc = NATS()
    assert hasattr(nc, "_flush_queue")
    assert {"out_msgs", "out_bytes", "reconnects"} <= set(nc.stats)
    assert isinstance(nc.is_draining_pubs, bool)
    assert isinstance(nc.max_payload, int)


def test_the_writer_uses_raw_commands_on_the_installed_client() -> None:
    # ``direct`` is False while disconnected; ``_raw`` says whether the internals were found.
    assert Writer(NATS())._raw


def test_the_header_parser_the_client_overrides_is_the_one_nats_py_calls() -> None:
    base = inspect.getattr_static(NATS, "_parse_header_lines")
    assert isinstance(base, staticmethod)
    assert _parameters(NATS._parse_header_lines) == ["raw"]
    assert "_parse_header_lines" in inspect.getsource(NATS._process_headers)
    raw = b"Nats-Msg-Id: a-1\r\ntraceparent: 00-ab-cd-01\r\n\r\n"
    assert Client._parse_header_lines(raw) == NATS._parse_header_lines(raw)


async def test_a_subscription_keeps_undispatched_messages_in_its_pending_queue() -> None:
    async def on_msg(_msg: Msg) -> None:
        return None

    sub = Subscription(NATS(), 1, "s", cb=on_msg)
    assert isinstance(sub._pending_queue, asyncio.Queue)


def test_a_pull_status_names_its_description_with_the_header_enum() -> None:
    assert Header.DESCRIPTION.value == "Description"
