from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    EVENT_ROUTES,
    ChangeRecorded,
    DecisionRecorded,
    Envelope,
    MalformedEnvelope,
    UnexpectedEventType,
    UnknownEventType,
    decode,
    encode,
    pack,
    unpack,
)

from .samples import SAMPLES, T1, sample_id

EVENT_ID = "0190f3a2-7b1c-7d4e-8f00-123456789abc"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def packed_change() -> Envelope:
    return pack(ChangeRecorded(commit_sha="abc"), agency="acme", source="metrics_collector")


def test_samples_cover_every_registered_payload() -> None:
    assert {type(sample) for sample in SAMPLES} == set(EVENT_ROUTES)


@pytest.mark.parametrize("payload", SAMPLES, ids=sample_id)
def test_payload_round_trips_through_the_wire(payload: Message) -> None:
    envelope = pack(
        payload,
        agency="acme",
        source="policy_engine",
        id=EVENT_ID,
        occurred_at=T1,
        trace_context={"traceparent": TRACEPARENT},
    )

    received = decode(encode(envelope))

    assert unpack(received) == payload
    assert unpack(received, type(payload)) == payload
    assert received.type == payload.DESCRIPTOR.full_name
    assert (received.id, received.agency, received.source) == (EVENT_ID, "acme", "policy_engine")
    assert received.occurred_at.ToDatetime(tzinfo=UTC) == T1
    assert dict(received.trace_context) == {"traceparent": TRACEPARENT}


def test_type_is_the_full_protobuf_name_of_the_payload() -> None:
    assert packed_change().type == "cortex.delivery.v1.ChangeRecorded"


def test_pack_defaults_id_to_a_uuid7() -> None:
    first, second = packed_change(), packed_change()

    assert uuid.UUID(first.id).version == 7
    assert first.id != second.id


def test_pack_defaults_occurred_at_to_now() -> None:
    before = datetime.now(UTC)
    occurred = packed_change().occurred_at.ToDatetime(tzinfo=UTC)

    assert before - timedelta(seconds=1) <= occurred <= datetime.now(UTC)


def test_pack_converts_occurred_at_to_utc() -> None:
    local = T1.astimezone(datetime.now().astimezone().tzinfo)
    env = pack(ChangeRecorded(), agency="acme", source="s", occurred_at=local)

    assert env.occurred_at.ToDatetime(tzinfo=UTC) == T1


def test_pack_accepts_a_uuid_object_as_id() -> None:
    env = pack(ChangeRecorded(), agency="acme", source="s", id=uuid.UUID(EVENT_ID))

    assert env.id == EVENT_ID


def test_pack_rejects_a_naive_occurred_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pack(ChangeRecorded(), agency="acme", source="s", occurred_at=datetime(2026, 1, 1))


@pytest.mark.parametrize("bad_id", ["", "42", EVENT_ID.upper(), EVENT_ID.replace("-", "")])
def test_pack_rejects_an_id_that_is_not_a_canonical_uuid(bad_id: str) -> None:
    with pytest.raises(ValueError, match="canonical UUID"):
        pack(ChangeRecorded(), agency="acme", source="s", id=bad_id)


def test_pack_rejects_an_invalid_agency() -> None:
    with pytest.raises(ValueError, match="invalid agency"):
        pack(ChangeRecorded(), agency="Acme", source="s")


def test_pack_rejects_an_empty_source() -> None:
    with pytest.raises(ValueError, match="source"):
        pack(ChangeRecorded(), agency="acme", source="")


def test_pack_rejects_a_payload_that_is_not_a_registered_event() -> None:
    with pytest.raises(UnknownEventType, match=r"google\.protobuf\.Timestamp"):
        pack(Timestamp(), agency="acme", source="s")


def test_unpack_rejects_an_unknown_event_type() -> None:
    env = packed_change()
    env.type = "cortex.delivery.v9.ChangeRecorded"
    env.payload.type_url = "type.googleapis.com/cortex.delivery.v9.ChangeRecorded"

    received = decode(encode(env))  # a newer producer's envelope is still well-formed

    with pytest.raises(UnknownEventType, match=r"cortex\.delivery\.v9\.ChangeRecorded") as info:
        unpack(received)
    assert info.value.type_name == "cortex.delivery.v9.ChangeRecorded"


def test_unpack_with_an_expected_type_rejects_another_payload() -> None:
    with pytest.raises(UnexpectedEventType, match="DecisionRecorded"):
        unpack(packed_change(), DecisionRecorded)


def test_unpack_rejects_a_type_that_disagrees_with_the_payload() -> None:
    env = packed_change()
    env.type = "cortex.decision.v1.DecisionRecorded"

    with pytest.raises(MalformedEnvelope, match="does not match"):
        unpack(env)


def test_unpack_rejects_unreadable_payload_bytes() -> None:
    env = packed_change()
    env.payload.value = b"\xff"

    with pytest.raises(MalformedEnvelope, match="unreadable ChangeRecorded"):
        unpack(decode(encode(env)))


def test_encode_is_deterministic() -> None:
    context = {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}

    def packed(trace_context: dict[str, str]) -> Envelope:
        payload = ChangeRecorded(commit_sha="abc")
        return pack(
            payload,
            agency="acme",
            source="s",
            id=EVENT_ID,
            occurred_at=T1,
            trace_context=trace_context,
        )

    assert encode(packed(context)) == encode(packed(dict(reversed(context.items()))))


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xff\xff\xff", b"hello, world", b'{"id": "x"}'],
    ids=["empty", "invalid-varint", "text", "json"],
)
def test_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        decode(data)


def test_decode_rejects_a_truncated_envelope() -> None:
    with pytest.raises(MalformedEnvelope):
        decode(encode(packed_change())[:-5])


@pytest.mark.parametrize("field", ["id", "type", "agency", "source", "occurred_at", "payload"])
def test_decode_rejects_an_envelope_missing_a_field(field: str) -> None:
    env = packed_change()
    env.ClearField(field)

    with pytest.raises(MalformedEnvelope, match=f"missing {field}"):
        decode(encode(env))


@pytest.mark.parametrize(
    ("field", "value"), [("id", "not-a-uuid"), ("agency", "ACME"), ("type", "cortex.Other")]
)
def test_decode_rejects_an_envelope_with_an_invalid_field(field: str, value: str) -> None:
    env = packed_change()
    setattr(env, field, value)

    with pytest.raises(MalformedEnvelope):
        decode(encode(env))
