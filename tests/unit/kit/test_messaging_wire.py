"""The bus's hand-built protocol pieces: JetStream ack subjects, publish acks, PUB/HPUB commands."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import BadHeaderError, BadSubjectError, MaxPayloadError
from nats.protocol.parser import Parser

from cortex_kit.messaging.fast_transport import _ack_fields, _acknowledged
from cortex_kit.messaging.transport import MSG_ID_HEADER
from cortex_kit.messaging.wire import Client, Writer

V1 = "$JS.ACK.CORTEX_DELIVERY.metrics.3.1042.977.1795699629307734905.12"
V2 = "$JS.ACK.hub.ACCHASH.CORTEX_DELIVERY.metrics.3.1042.977.1795699629307734905.12.x9Yz"


@pytest.mark.parametrize("reply", [V1, V2, V2.rpartition(".")[0]], ids=["v1", "v2", "v2-11"])
def test_ack_subject_gives_stream_deliveries_sequence_and_pending(reply: str) -> None:
    assert _ack_fields(reply) == ("CORTEX_DELIVERY", 3, 1042, 12)
    metadata = Msg(cast(Any, None), reply=reply).metadata  # nats-py agrees
    assert (metadata.stream, metadata.num_delivered, metadata.sequence.stream) == (
        "CORTEX_DELIVERY",
        3,
        1042,
    )
    assert metadata.num_pending == 12


@pytest.mark.parametrize(
    "reply",
    ["", "_INBOX.abc.1", "$JS.ACK.S.c.1.2.3", "$JS.NAK.S.c.1.2.3.4.5", "$JS.ACK.S.c.x.2.3.4.5"],
)
def test_a_subject_that_is_no_jetstream_ack_subject_is_refused(reply: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - int() or the check itself
        _ack_fields(reply)


def _reply(data: bytes, headers: dict[str, str] | None = None) -> Msg:
    return Msg(cast(Any, None), subject="_INBOX.x.1", data=data, headers=headers)


@pytest.mark.parametrize(
    ("data", "headers", "ok"),
    [
        (b'{"stream":"CORTEX_DELIVERY","seq":7}', None, True),
        (b'{"stream":"CORTEX_DELIVERY","seq":7,"duplicate": true}', None, True),
        (b'{"stream":"S","seq":7,"domain":"hub"}', None, True),
        (b'{"stream":"error","seq":1}', None, True),  # a stream may be named "error"
        (
            b'{"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}}',
            None,
            False,
        ),
        (b'{"stream":"S","seq":0,"error":{"code":400,"description":"bad"}}', None, False),
        (b"", {"Status": "503"}, False),  # no responders: no stream for the subject
        (b"not json", None, False),
        (b'{"stream":"S"', None, False),
        (b'{"stream":"S"}', None, False),
    ],
)
def test_publish_ack_is_a_pub_ack_and_not_an_error(
    data: bytes, headers: dict[str, str] | None, ok: bool
) -> None:
    assert _acknowledged(_reply(data, headers)) is ok


class FakeClient:
    """What ``Writer`` uses of ``nats.aio.client.Client``; keeps what would go to the socket."""

    def __init__(self, *, connected: bool = True) -> None:
        self.is_connected = connected
        self.is_closed = False
        self.is_draining_pubs = False
        self.max_payload = 1024
        self.stats = {"out_msgs": 0, "out_bytes": 0}
        self.commands: list[bytes] = []
        self.published: list[tuple[str, bytes, str, dict[str, str] | None]] = []

    async def _send_command(self, cmd: bytes) -> None:
        self.commands.append(cmd)

    async def _flush_pending(self) -> None:
        pass

    async def publish(
        self, subject: str, payload: bytes = b"", reply: str = "", headers: Any = None
    ) -> None:
        self.published.append((subject, payload, reply, headers))


class Received:
    """Parses protocol bytes back as a server would see them (PUB/HPUB look like MSG/HMSG)."""

    def __init__(self) -> None:
        self.msgs: list[tuple[str, str, bytes, dict[str, str] | None]] = []

    async def _process_msg(
        self, _sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        parsed = None
        if headers:
            lines = headers.decode().split("\r\n")
            assert lines[0] == "NATS/1.0"
            parsed = dict(line.split(": ", 1) for line in lines[1:] if line)
        self.msgs.append((subject.decode(), reply.decode(), data, parsed))


async def parse(commands: list[bytes]) -> list[tuple[str, str, bytes, dict[str, str] | None]]:
    received = Received()
    # A server's MSG/HMSG carries a sid after the subject; insert one to reuse nats-py's parser.
    wire = b"".join(commands).replace(b"HPUB ", b"HMSG ").replace(b"PUB ", b"MSG ")
    lines = []
    for line in wire.split(b"\r\n"):
        if line.startswith((b"MSG ", b"HMSG ")):
            op, subject, rest = line.split(b" ", 2)
            line = b" ".join([op, subject, b"1", rest])
        lines.append(line)
    await Parser(cast(Any, received)).parse(b"\r\n".join(lines))
    return received.msgs


async def test_hpub_commands_carry_subject_reply_headers_and_the_message_id() -> None:
    client = FakeClient()
    writer = Writer(cast(NATS, client))
    headers = {"traceparent": "00-abc-def-01", MSG_ID_HEADER: "stale", " ": "skipped"}
    commands = [
        writer.hpub(
            "cortex.delivery.change.acme",
            "_INBOX.r.1",
            b"\x00payload\r\n",
            headers,
            MSG_ID_HEADER,
            "id-1",
        ),
        writer.hpub("cortex.delivery.change.acme", "_INBOX.r.2", b"", {}, MSG_ID_HEADER, "id-2"),
        writer.hpub("s", "_INBOX.r.3", b"x", {"Name": " line\r\nbreak "}, MSG_ID_HEADER, " id\n3"),
    ]
    await writer.send(commands, size=13)

    assert await parse(client.commands) == [
        (
            "cortex.delivery.change.acme",
            "_INBOX.r.1",
            b"\x00payload\r\n",
            {"traceparent": "00-abc-def-01", MSG_ID_HEADER: "id-1"},
        ),
        ("cortex.delivery.change.acme", "_INBOX.r.2", b"", {MSG_ID_HEADER: "id-2"}),
        ("s", "_INBOX.r.3", b"x", {"Name": "line  break", MSG_ID_HEADER: "id 3"}),
    ]
    assert client.stats == {"out_msgs": 3, "out_bytes": 13}


@pytest.mark.parametrize(
    ("subject", "reply", "headers", "error"),
    [
        ("a b", "_INBOX.r.1", {}, BadSubjectError),
        ("a\r\nPUB x 1", "_INBOX.r.1", {}, BadSubjectError),
        ("", "_INBOX.r.1", {}, BadSubjectError),
        ("a", "_INBOX.r.1\r\n", {}, BadSubjectError),
        ("a", "", {}, BadSubjectError),
        ("a", "_INBOX.r.1", {"Bad Name": "v"}, BadHeaderError),
        ("a", "_INBOX.r.1", {"Bad:Name": "v"}, BadHeaderError),
    ],
)
def test_hpub_refuses_what_client_publish_refuses(
    subject: str, reply: str, headers: dict[str, str], error: type[Exception]
) -> None:
    writer = Writer(cast(NATS, FakeClient()))
    with pytest.raises(error):
        writer.hpub(subject, reply, b"x", headers, MSG_ID_HEADER, "id")


def test_hpub_refuses_a_payload_over_the_servers_max_payload() -> None:
    writer = Writer(cast(NATS, FakeClient()))
    with pytest.raises(MaxPayloadError):
        writer.hpub("a", "_INBOX.r.1", b"x" * 1025, {}, MSG_ID_HEADER, "id")


async def test_acks_go_out_as_one_command_of_pubs() -> None:
    client = FakeClient()
    await Writer(cast(NATS, client)).publish_each([V1, V2], b"+ACK")

    assert len(client.commands) == 1
    assert await parse(client.commands) == [(V1, "", b"+ACK", None), (V2, "", b"+ACK", None)]
    with pytest.raises(BadSubjectError):
        await Writer(cast(NATS, client)).publish_each(["ok", "not ok"], b"+ACK")


async def test_without_a_connection_the_writer_falls_back_to_client_publish() -> None:
    client = FakeClient(connected=False)
    writer = Writer(cast(NATS, client))
    await writer.publish_each([V1], b"+ACK")

    assert not writer.direct
    assert client.published == [(V1, b"+ACK", "", None)]
    assert client.commands == []


def test_pub_ack_json_is_what_the_fast_check_expects() -> None:
    # The check relies on the server writing "stream" first: nats-server's PubAck field order.
    ack = json.dumps({"stream": "S", "seq": 1}, separators=(",", ":")).encode()
    assert _acknowledged(_reply(ack))


HEADER_BLOCKS = [
    b"Nats-Msg-Id: 0190f3a2-7b1c-7d4e-8f00-123456789abc\r\n\r\n",
    b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
    b"Nats-Msg-Id: x\r\n\r\n",
    b"A:b\r\nC:\tspaced \r\n  Padded  : v\r\n\r\n",
    b"No colon\r\n:empty name\r\nEmpty-Value:\r\n\r\n",
    b"Bad Name: v\r\nTab\tName: v\r\nVt\x0bName: v\r\nFs\x1cName: v\r\nOk: v\r\n\r\n",
    "Caf\u00e9: v\r\nValue: caf\u00e9 \u2713\r\n\r\n".encode(),
    b"Value: \xff\xfe broken utf-8\r\nA: first\r\nA: second\r\n\r\n",
    b"",
    b"\r\n\r\n",
]


@pytest.mark.parametrize("raw", HEADER_BLOCKS)
def test_client_parses_headers_as_nats_py_does(raw: bytes) -> None:
    assert Client._parse_header_lines(raw) == NATS._parse_header_lines(raw)


def test_client_header_names_with_any_whitespace_are_skipped_as_nats_py_skips_them() -> None:
    for code in range(128):
        raw = b"N" + bytes([code]) + b"e: v\r\n\r\n"
        assert Client._parse_header_lines(raw) == NATS._parse_header_lines(raw), code
