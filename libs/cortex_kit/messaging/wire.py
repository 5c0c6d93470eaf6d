"""The NATS client as the bus uses it: many publishes encoded at once, cheaper header parsing.

``Client.publish`` validates, encodes and queues each message on its own (about 9 µs with a
header, 4 µs for a JetStream ack); the outbox relay and the consumers send hundreds of messages
per batch, so this module builds the same ``PUB``/``HPUB`` protocol commands in bulk (about
1.3 and 0.4 µs) with the same validation, and queues them as one command. It falls back to
``Client.publish`` while the client is not connected (its buffering limits then apply) and if
the client lacks the two internals it relies on (``_send_command``, ``_flush_pending``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from cachetools import LRUCache
from nats.aio.client import Client as NATS
from nats.errors import (
    BadHeaderError,
    BadSubjectError,
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
)

# As nats-py validates them: no whitespace in a subject (a CR/LF would inject commands), header
# names are HTTP tokens, CR/LF in a header value become spaces.
_SUBJECT_INVALID: Final = re.compile(r"[ \t\r\n]")
_HEADER_KEY: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_NEWLINES: Final = str.maketrans({"\r": " ", "\n": " "})
_CACHE_LIMIT: Final = 4096
_WHITESPACE: Final = re.compile(r"\s")


class Client(NATS):
    """The nats-py client with a cheaper parser of message headers (every delivery has some).

    Same result as ``Client._parse_header_lines`` (2.16), which tests every character of every
    header name with a generator; here one regular expression search does: 1.2 instead of 2 µs
    for a ``Nats-Msg-Id``, 2.1 instead of 4.2 µs with a ``traceparent`` too.
    """

    @staticmethod
    def _parse_header_lines(raw: bytes) -> dict[str, str]:
        headers: dict[str, str] = {}
        for line in raw.split(b"\r\n"):
            if not line:
                continue
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            try:
                key = name.strip().decode("ascii")
            except UnicodeDecodeError:
                continue  # a malformed name: skipped, as nats-py does
            if _WHITESPACE.search(key) is not None:
                continue  # whitespace inside a name (``str.isspace`` and ``\s`` agree)
            headers[key] = value.strip().decode("utf-8", "replace")
        return headers


class Writer:
    """Encodes and queues publishes for one connection (see the module docstring)."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._raw = callable(getattr(nc, "_send_command", None)) and callable(
            getattr(nc, "_flush_pending", None)
        )
        self._subjects: LRUCache[str, bytes] = LRUCache(_CACHE_LIMIT)  # validated → bytes
        self._header_lines: LRUCache[tuple[tuple[str, str], ...], bytes] = LRUCache(_CACHE_LIMIT)

    def _subject(self, subject: str) -> bytes:
        encoded = self._subjects.get(subject)
        if encoded is None:
            if not subject or _SUBJECT_INVALID.search(subject):
                raise BadSubjectError
            encoded = self._subjects[subject] = subject.encode()
        return encoded

    def _lines(self, headers: Mapping[str, str], skip: str) -> bytes:
        """``Name: value\\r\\n`` for each header but ``skip``, validated as nats-py does."""
        key = tuple(headers.items())
        lines = self._header_lines.get(key)
        if lines is None:
            parts = []
            for name, value in key:
                name = name.strip()
                if not name or name == skip:
                    continue
                if not _HEADER_KEY.fullmatch(name):
                    raise BadHeaderError(name)
                clean = value.strip().translate(_HEADER_VALUE_NEWLINES)
                parts.append(f"{name}: {clean}\r\n".encode())
            lines = self._header_lines[key] = b"".join(parts)
        return lines

    @property
    def direct(self) -> bool:
        """Whether commands can be queued directly (else publish with ``Client.publish``)."""
        return self._raw and self._nc.is_connected

    def hpub(
        self,
        subject: str,
        reply: str,
        data: bytes,
        headers: Mapping[str, str],
        id_header: str,
        msg_id: str,
    ) -> bytes:
        """The ``HPUB`` command of a message whose ``id_header`` is ``msg_id`` (over any such
        key of ``headers``); raises as ``Client.publish`` would for a bad subject, header or
        size."""
        if len(data) > self._nc.max_payload:
            raise MaxPayloadError
        if "\r" in msg_id or "\n" in msg_id or msg_id != msg_id.strip():
            msg_id = msg_id.strip().translate(_HEADER_VALUE_NEWLINES)
        header = b"NATS/1.0\r\n%b%b: %b\r\n\r\n" % (
            self._lines(headers, id_header) if headers else b"",
            id_header.encode(),
            msg_id.encode(),
        )
        if not reply or _SUBJECT_INVALID.search(reply):
            raise BadSubjectError
        return b"HPUB %b %b %d %d\r\n%b%b\r\n" % (
            self._subject(subject),
            reply.encode(),
            len(header),
            len(header) + len(data),
            header,
            data,
        )

    async def send(self, commands: list[bytes], *, size: int) -> None:
        """Queue ``commands`` (one message each, ``size`` payload bytes in all) at once; the
        client's flusher writes them with whatever else is queued when it next runs."""
        if not commands:
            return
        nc = self._nc
        if nc.is_closed:
            raise ConnectionClosedError
        if nc.is_draining_pubs:
            raise ConnectionDrainingError
        nc.stats["out_msgs"] += len(commands)
        nc.stats["out_bytes"] += size
        await nc._send_command(b"".join(commands))
        # Kick the flusher unless already kicked (as ``Client.publish`` does).
        flush_queue = getattr(nc, "_flush_queue", None)
        if flush_queue is None or flush_queue.empty():
            await nc._flush_pending()

    async def publish_each(self, subjects: Iterable[str], payload: bytes) -> None:
        """Publish the same small payload (e.g. ``+ACK``) to every subject."""
        nc = self._nc
        if not self.direct:
            for subject in subjects:
                await nc.publish(subject, payload)
            return
        tail = b" %d\r\n%b\r\n" % (len(payload), payload)
        commands: list[bytes] = []
        for subject in subjects:
            if not subject or _SUBJECT_INVALID.search(subject):
                raise BadSubjectError
            commands.append(b"PUB " + subject.encode() + tail)
        await self.send(commands, size=len(payload) * len(commands))
