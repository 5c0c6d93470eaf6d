"""A DeliveryBatch envelope becomes one stored version per event, ``<envelope id>/<n>``; an
event that cannot be stored is rejected alone and the others are kept."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    ChangeRecorded,
    DeliveryBatch,
    DeliveryEvent,
    DeploymentRecorded,
    IncidentRecorded,
    encode,
    pack,
)
from cortex_kit.messaging.handlers import Undecodable
from metrics_collector.events.decoding import ReceivedFacts, received_facts


class Delivered:
    """An envelope on the wire and what decoding its bytes gives."""

    def __init__(self, payload: DeliveryBatch | ChangeRecorded, source: str) -> None:
        envelope = pack(payload, agency="acme", source=source)
        self.msg_id = envelope.id
        self.data = encode(envelope)

    def decoded(self) -> ReceivedFacts:
        return received_facts(self.data)


def _delivery(payload: DeliveryBatch | ChangeRecorded, *, source: str = "gateway") -> Delivered:
    return Delivered(payload, source)


def _deployments(count: int) -> list[DeliveryEvent]:
    return [
        DeliveryEvent(deployment=DeploymentRecorded(deployment_id=f"d-{n}", service="s"))
        for n in range(count)
    ]


def _batch(*events: DeliveryEvent) -> DeliveryBatch:
    return DeliveryBatch(events=list(events))


def test_each_event_of_a_batch_is_a_version_of_its_own_fact() -> None:
    batch = _batch(
        DeliveryEvent(change=ChangeRecorded(event_id="c-1", commit_sha="a" * 40, service="s")),
        DeliveryEvent(deployment=DeploymentRecorded(deployment_id="d-1", service="s")),
        DeliveryEvent(incident=IncidentRecorded(incident_id="i-1", service="s")),
    )
    delivery = _delivery(batch)
    received = delivery.decoded()
    facts = received.facts
    assert [(f.kind, f.event_id) for f in facts] == [
        ("change", "c-1"),
        ("deployment", "d-1"),
        ("incident", "i-1"),
    ]
    assert [f.envelope_id for f in facts] == [f"{delivery.msg_id}/{n}" for n in range(3)]
    assert {f.agency for f in facts} == {"acme"}
    assert received.refused == []


def test_a_single_event_keeps_the_envelope_id_as_its_version_id() -> None:
    delivery = _delivery(ChangeRecorded(event_id="c-1", commit_sha="a" * 40))
    assert [f.envelope_id for f in delivery.decoded().facts] == [delivery.msg_id]


def test_an_empty_event_of_a_batch_is_rejected_alone() -> None:
    delivery = _delivery(
        _batch(DeliveryEvent(change=ChangeRecorded(event_id="c")), DeliveryEvent())
    )
    received = delivery.decoded()
    assert [f.event_id for f in received.facts] == ["c"]
    [rejected] = received.refused
    assert rejected.item == f"{delivery.msg_id}/1"
    assert "is empty" in rejected.reason


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (DeploymentRecorded(deployment_id="x\x00y", service="s"), "id contains a NUL"),
        (DeploymentRecorded(deployment_id="x\ny", service="s"), "id contains a control"),
        (DeploymentRecorded(deployment_id="d", service="s\x01"), "service contains a control"),
        (DeploymentRecorded(deployment_id="d", environment="p\x00"), "environment contains a NUL"),
        (DeploymentRecorded(deployment_id="d", labels=["ok", "b\x00d"]), "labels contains a NUL"),
        (DeploymentRecorded(deployment_id="d", rollback_of="\x00"), "rollback_of contains a NUL"),
    ],
)
def test_an_event_the_store_cannot_hold_is_rejected_by_name_and_the_rest_are_kept(
    bad: DeploymentRecorded, reason: str
) -> None:
    events = _deployments(100)
    events.insert(42, DeliveryEvent(deployment=bad))
    delivery = _delivery(_batch(*events))
    received = delivery.decoded()
    assert [f.event_id for f in received.facts] == [f"d-{n}" for n in range(100)]
    [rejected] = received.refused
    assert rejected.item == f"{delivery.msg_id}/42"
    assert rejected.reason.startswith(f"deployment {bad.deployment_id!r} ({rejected.item}): ")
    assert reason in rejected.reason


def test_an_event_with_a_time_out_of_range_is_rejected_alone() -> None:
    beyond = Timestamp(seconds=300_000_000_000)  # year ~11,500
    events = [
        *_deployments(3),
        DeliveryEvent(deployment=DeploymentRecorded(deployment_id="late", started_at=beyond)),
    ]
    delivery = _delivery(_batch(*events))
    received = delivery.decoded()
    assert len(received.facts) == 3
    [rejected] = received.refused
    assert rejected.item == f"{delivery.msg_id}/3"


def test_free_form_text_may_hold_line_breaks() -> None:
    change = ChangeRecorded(event_id="c", commit_sha="a" * 40, author="ana\nbob", repo="r\tx")
    delivery = _delivery(change)
    received = delivery.decoded()
    assert len(received.facts) == 1
    assert received.refused == []


def test_an_envelope_whose_own_source_cannot_be_stored_is_undecodable() -> None:
    with pytest.raises(Undecodable, match="source contains a NUL"):
        _delivery(_batch(*_deployments(2)), source="gate\x00way").decoded()
