"""Stored rows of delivery payloads, and one fact merged from several stored versions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from cortex_contracts import (
    ChangeRecorded,
    DeploymentRecorded,
    DeploymentSource,
    DeploymentStatus,
    IncidentRecorded,
)
from metrics_collector.domain.facts.mapping import (
    DeliveryFact,
    merge_versions,
    payload_dict,
    timestamp_json,
    to_fact,
)
from metrics_collector.domain.metrics.calculators import fact_from_stored, merge_reports, to_stored

T = datetime(2025, 3, 3, 10, tzinfo=UTC)


def _deployment(status: int, finished_s: int | None = None, **fields: object) -> DeploymentRecorded:
    message = DeploymentRecorded(
        deployment_id="d1",
        service="checkout",
        environment="production",
        status=status,  # type: ignore[arg-type]
        source=DeploymentSource.DEPLOYMENT_SOURCE_REST,
        **fields,  # type: ignore[arg-type]
    )
    message.started_at.FromDatetime(T)
    if finished_s is not None:
        message.finished_at.FromNanoseconds(int(T.timestamp()) * 10**9 + finished_s * 10**9 + 123)
    return message


def _stored(message: Message, envelope: str) -> DeliveryFact:
    return to_fact(message, agency="acme", envelope_id=envelope, source="gateway", occurred_at=T)


SAMPLES: list[Message] = [
    _deployment(DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED, 600, commit_shas=["a", "b"]),
    _deployment(DeploymentStatus.DEPLOYMENT_STATUS_IN_PROGRESS, batch_size=3, labels=["x"]),
    ChangeRecorded(event_id="e", commit_sha="abc", service="s", repo="r", author="ana"),
    IncidentRecorded(incident_id="i", service="s", severity="sev1", caused_by_deployment="d"),
    _deployment(17),  # a status this build does not know: MessageToDict's own rule applies
]


@pytest.mark.parametrize("message", SAMPLES)
def test_payload_dict_is_message_to_dict(message: Message) -> None:
    assert payload_dict(message) == MessageToDict(message, preserving_proto_field_name=True)


@given(
    st.integers(min_value=-62_135_596_800, max_value=253_402_300_799),
    st.sampled_from([0, 1, 999, 1_000, 123_000, 1_000_000, 500_000_000, 999_999_999])
    | st.integers(min_value=0, max_value=999_999_999),
)
def test_timestamp_json_is_to_json_string(seconds: int, nanos: int) -> None:
    stamp = Timestamp(seconds=seconds, nanos=nanos)
    assert timestamp_json(stamp) == stamp.ToJsonString()


def test_timestamp_json_leaves_invalid_timestamps_to_protobuf() -> None:
    stamp = Timestamp(seconds=0, nanos=-5)
    with pytest.raises(ValueError, match="Nanos -5"):
        stamp.ToJsonString()
    with pytest.raises(ValueError, match="Nanos -5"):
        timestamp_json(stamp)


@pytest.mark.parametrize("message", SAMPLES[:4])
def test_to_stored_is_the_inverse_of_fact_from_stored(message: Message) -> None:
    row = _stored(message, "env-1")
    fact = fact_from_stored(row.kind, row.facts, event_id=row.event_id, occurred_at=row.occurred_at)
    again = fact_from_stored(row.kind, to_stored(fact), event_id=row.event_id, occurred_at=T)
    assert again == fact


VERSIONS = [
    _stored(_deployment(DeploymentStatus.DEPLOYMENT_STATUS_IN_PROGRESS, commit_shas=["a"]), "e1"),
    _stored(_deployment(DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED, 600, batch_size=4), "e2"),
    _stored(_deployment(DeploymentStatus.DEPLOYMENT_STATUS_IN_PROGRESS), "e3"),
]


def test_versions_merge_into_the_most_final_with_empty_fields_filled() -> None:
    merged = merge_versions(VERSIONS)
    assert merged.envelope_id == "e2"  # the winner's
    assert merged.facts["status"] == "DEPLOYMENT_STATUS_SUCCEEDED"
    assert merged.facts["commit_shas"] == ["a"]  # filled from the in-progress report
    assert merged.facts["batch_size"] == 4  # a field the calculators do not read, kept
    assert merged.facts["source"] == "DEPLOYMENT_SOURCE_REST"
    assert merged.occurred_at == datetime.fromisoformat(merged.facts["finished_at"])
    facts = [
        fact_from_stored("deployment", v.facts, event_id="d1", occurred_at=v.occurred_at)
        for v in VERSIONS
    ]
    stored = fact_from_stored("deployment", merged.facts, event_id="d1", occurred_at=T)
    assert stored == merge_reports(facts)


def test_any_order_of_the_versions_gives_the_same_merged_row() -> None:
    rows = {repr(merge_versions(list(order))) for order in itertools.permutations(VERSIONS)}
    assert len(rows) == 1


def test_a_single_version_is_its_own_merge() -> None:
    assert merge_versions(VERSIONS[:1]) is VERSIONS[0]
