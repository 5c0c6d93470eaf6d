"""Packing events into the `Envelope` every bus message travels in, and back.

A producer writes `encode(pack(payload, agency=..., source=...))` to its outbox with
`subject_for(payload, agency)`, and the relay publishes it with `Nats-Msg-Id: envelope.id`.
A consumer calls `unpack(decode(msg.data), ExpectedPayload)`; `MalformedEnvelope` and
`UnknownEventType` mean the message belongs in the dead-letter stream.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final, TypeVar, overload

import uuid_utils
from google.protobuf.message import DecodeError, Message

from cortex_contracts._pb.cortex.events.v1.envelope_pb2 import Envelope
from cortex_contracts.errors import MalformedEnvelope, UnexpectedEventType, UnknownEventType
from cortex_contracts.subjects import EVENT_ROUTES, validate_agency

__all__ = [
    "PAYLOAD_TYPES",
    "Envelope",
    "decode",
    "encode",
    "new_event_id",
    "pack",
    "payload_type",
    "unpack",
]

M = TypeVar("M", bound=Message)

# What `str(uuid.UUID(text)) == text` accepts: lower-case hex, hyphens at fixed places.
_CANONICAL_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# google.protobuf.Timestamp's valid range (0001-01-01 … 9999-12-31), as `ToDatetime` checks it.
_TIMESTAMP_SECONDS_MIN: Final = -62_135_596_800
_TIMESTAMP_SECONDS_MAX: Final = 253_402_300_799
_NANOS_PER_SECOND: Final = 1_000_000_000

# Full protobuf name -> class, for every payload that may travel in an Envelope.
PAYLOAD_TYPES: Final[Mapping[str, type[Message]]] = MappingProxyType(
    {cls.DESCRIPTOR.full_name: cls for cls in EVENT_ROUTES}
)


def new_event_id() -> str:
    """A fresh UUIDv7 string: time-ordered, so outbox rows and inbox keys index well."""
    return str(uuid_utils.uuid7())


def payload_type(type_name: str) -> type[Message]:
    """The payload class registered for a full protobuf name, e.g. `cortex.delivery.v1.…`."""
    try:
        return PAYLOAD_TYPES[type_name]
    except KeyError:
        raise UnknownEventType(type_name) from None


def pack(
    payload: Message,
    *,
    agency: str,
    source: str,
    id: str | uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> Envelope:
    """Wrap a registered payload; `id` defaults to a new UUIDv7, `occurred_at` to now."""
    type_name = payload.DESCRIPTOR.full_name
    payload_type(type_name)  # only payloads a consumer can unpack may be published
    if not source:
        raise ValueError("source must name the producing service")
    envelope = Envelope(
        id=new_event_id() if id is None else _canonical_id(id),
        type=type_name,
        agency=validate_agency(agency),
        source=source,
    )
    if trace_context:
        envelope.trace_context.update(trace_context)
    if occurred_at is None:
        envelope.occurred_at.FromNanoseconds(time.time_ns())  # now, without a datetime
    else:
        envelope.occurred_at.FromDatetime(_aware(occurred_at))
    envelope.payload.Pack(payload, deterministic=True)
    return envelope


@overload
def unpack(envelope: Envelope) -> Message: ...
@overload
def unpack(envelope: Envelope, expected: type[M]) -> M: ...
def unpack(envelope: Envelope, expected: type[Message] | None = None) -> Message:
    """The payload of `envelope`, as its registered class (checked against `expected`)."""
    cls = payload_type(envelope.type)
    if expected is not None and cls is not expected:
        raise UnexpectedEventType(expected.DESCRIPTOR.full_name, envelope.type)
    if _type_url_name(envelope) != envelope.type:
        raise MalformedEnvelope(
            f"envelope {envelope.id}: type {envelope.type!r} does not match payload type URL "
            f"{envelope.payload.type_url!r}"
        )
    message = cls()
    try:
        # The type URL was checked above: what `Any.Unpack` does after checking it again.
        message.ParseFromString(envelope.payload.value)
    except DecodeError as exc:
        raise MalformedEnvelope(f"envelope {envelope.id}: unreadable {cls.__name__}") from exc
    return message


def encode(envelope: Envelope) -> bytes:
    """Wire bytes of `envelope` (deterministic: equal envelopes give equal bytes)."""
    return envelope.SerializeToString(deterministic=True)


def decode(data: bytes) -> Envelope:
    """Parse and validate wire bytes; raise `MalformedEnvelope` for anything else."""
    try:
        envelope = Envelope.FromString(data)
    except DecodeError as exc:
        raise MalformedEnvelope(f"not a protobuf Envelope: {exc}") from exc
    problems = _problems(envelope)
    if problems:
        raise MalformedEnvelope(f"invalid Envelope: {'; '.join(problems)}")
    return envelope


def _problems(envelope: Envelope) -> list[str]:
    id_, agency = envelope.id, envelope.agency
    has_time, has_payload = envelope.HasField("occurred_at"), envelope.HasField("payload")
    if not (id_ and envelope.type and agency and envelope.source and has_time and has_payload):
        missing = [n for n in ("id", "type", "agency", "source") if not getattr(envelope, n)]
        missing += [
            n for n, has in (("occurred_at", has_time), ("payload", has_payload)) if not has
        ]
        return [f"missing {', '.join(missing)}"]
    problems = []
    try:
        _check_canonical_id(id_)
        validate_agency(agency)
        _check_timestamp(envelope.occurred_at.seconds, envelope.occurred_at.nanos)
    except ValueError as exc:
        problems.append(str(exc))
    if _type_url_name(envelope) != envelope.type:
        problems.append(f"type {envelope.type!r} does not match {envelope.payload.type_url!r}")
    return problems


def _check_timestamp(seconds: int, nanos: int) -> None:
    """Raise what `Timestamp.ToDatetime` raises, without building the datetime."""
    if not _TIMESTAMP_SECONDS_MIN <= seconds <= _TIMESTAMP_SECONDS_MAX:
        raise ValueError(
            f"Timestamp is not valid: Seconds {seconds} must be in range "
            f"[{_TIMESTAMP_SECONDS_MIN}, {_TIMESTAMP_SECONDS_MAX}]."
        )
    if not 0 <= nanos < _NANOS_PER_SECOND:
        raise ValueError(f"Timestamp is not valid: Nanos {nanos} must be in a range [0, 999999].")


def _type_url_name(envelope: Envelope) -> str:
    return envelope.payload.type_url.rpartition("/")[2]


def _canonical_id(value: str | uuid.UUID) -> str:
    text = str(value)
    _check_canonical_id(text)
    return text


def _check_canonical_id(text: str) -> None:
    if _CANONICAL_UUID.fullmatch(text) is None:
        raise ValueError(f"event id {text!r} is not a canonical UUID string (use UUIDv7)")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware (e.g. datetime.now(UTC))")
    return moment
