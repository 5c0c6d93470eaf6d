"""A DeliveryBatch envelope becomes one stored version per event, ``<envelope id>/<n>``."""

from __future__ import annotations

import pytest

from cortex_contracts import (
    ChangeRecorded,
    DeliveryBatch,
    DeliveryEvent,
    DeploymentRecorded,
    IncidentRecorded,
    encode,
    pack,
)
from cortex_kit.messaging.consumer import Delivery, PoisonMessage
from metrics_collector.events.service import _facts


def _delivery(payload: DeliveryBatch | ChangeRecorded) -> tuple[str, Delivery]:
    envelope = pack(payload, agency="acme", source="gateway")
    return envelope.id, Delivery(envelope.id, "cortex.delivery.batch.acme", encode(envelope), {}, 1)


def test_each_event_of_a_batch_is_a_version_of_its_own_fact() -> None:
    batch = DeliveryBatch(
        events=[
            DeliveryEvent(change=ChangeRecorded(event_id="c-1", commit_sha="a" * 40, service="s")),
            DeliveryEvent(deployment=DeploymentRecorded(deployment_id="d-1", service="s")),
            DeliveryEvent(incident=IncidentRecorded(incident_id="i-1", service="s")),
        ]
    )
    envelope_id, delivery = _delivery(batch)
    facts = _facts(delivery)
    assert [(f.kind, f.event_id) for f in facts] == [
        ("change", "c-1"),
        ("deployment", "d-1"),
        ("incident", "i-1"),
    ]
    assert [f.envelope_id for f in facts] == [f"{envelope_id}/{n}" for n in range(3)]
    assert {f.agency for f in facts} == {"acme"}


def test_a_single_event_keeps_the_envelope_id_as_its_version_id() -> None:
    envelope_id, delivery = _delivery(ChangeRecorded(event_id="c-1", commit_sha="a" * 40))
    assert [f.envelope_id for f in _facts(delivery)] == [envelope_id]


def test_a_batch_with_an_empty_event_is_a_poison_message() -> None:
    batch = DeliveryBatch(
        events=[DeliveryEvent(change=ChangeRecorded(event_id="c")), DeliveryEvent()]
    )
    _, delivery = _delivery(batch)
    with pytest.raises(PoisonMessage, match="event 1 of batch"):
        _facts(delivery)
