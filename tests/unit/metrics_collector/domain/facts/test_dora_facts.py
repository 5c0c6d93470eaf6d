from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.json_format import MessageToDict

from cortex_contracts import ChangeRecorded, DeploymentRecorded, IncidentRecorded
from metrics_collector.domain.facts.mapping import to_fact
from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    DeploymentStatus,
    DoraInputError,
    Incident,
    fact_from_stored,
    unique_changes,
    unique_deployments,
    unique_incidents,
)
from tests.unit.metrics_collector.builders import change, deploy, h, incident


def test_naive_times_are_refused() -> None:
    with pytest.raises(DoraInputError, match="timezone-aware"):
        Change("e", "a", "checkout", datetime(2025, 1, 1))


def test_unknown_status_is_refused() -> None:
    with pytest.raises(DoraInputError, match="unknown deployment status"):
        Deployment("d1", "s", "production", "exploded", h(0))  # type: ignore[arg-type]


def test_status_strings_and_lists_are_coerced() -> None:
    d = Deployment("d1", "s", "production", "failed", h(0), h(1), ["a"], ["hotfix"])  # type: ignore[arg-type]
    assert d.status is DeploymentStatus.FAILED
    assert d.commit_shas == ("a",)
    assert d.labels == ("hotfix",)
    assert d.finished_ts == h(1).timestamp()


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        ("in_progress", "succeeded", "succeeded"),
        ("succeeded", "rolled_back", "rolled_back"),
        ("succeeded", "failed", "failed"),
        ("cancelled", "succeeded", "succeeded"),
        ("in_progress", "cancelled", "cancelled"),
    ],
)
def test_the_more_final_deployment_status_wins_in_any_order(
    first: str, second: str, winner: str
) -> None:
    a, b = deploy("d1", 0, status=first), deploy("d1", 0, status=second)
    assert unique_deployments([a, b])["d1"].status == winner
    assert unique_deployments([b, a])["d1"].status == winner


def test_a_status_update_keeps_the_commits_of_the_first_report() -> None:
    started = deploy("d1", 0, status="in_progress", shas=["a", "b"], labels=["hotfix"])
    finished = deploy("d1", 0, 0.5, status="succeeded")
    merged = unique_deployments([finished, started])["d1"]
    assert merged.status is DeploymentStatus.SUCCEEDED
    assert merged.finished_at == h(0.5)
    assert merged.commit_shas == ("a", "b")
    assert merged.labels == ("hotfix",)


def test_same_status_later_finish_wins() -> None:
    early, late = deploy("d1", 0, 1), deploy("d1", 0, 2)
    assert unique_deployments([late, early])["d1"].finished_at == h(2)
    assert unique_deployments([early, late])["d1"].finished_at == h(2)


def test_resolved_incident_beats_open_and_later_resolution_wins() -> None:
    opened = incident("i1", 0, caused_by="d1")
    resolved = incident("i1", 0, 3)
    resolved_later = incident("i1", 0, 5)
    merged = unique_incidents([resolved, opened, resolved_later])["i1"]
    assert merged.resolved_at == h(5)
    assert merged.caused_by_deployment == "d1"  # filled from the open report


def test_one_commit_reported_under_two_event_ids_is_one_change() -> None:
    push = Change("push-1", "abc", "checkout", h(0))
    pr = Change("pr-7", "abc", "checkout", h(0), pr_opened_at=h(-2), pr_merged_at=h(-1))
    merged = unique_changes([push, pr])
    assert list(merged) == [("checkout", "abc")]
    assert merged["checkout", "abc"].pr_merged_at == h(-1)
    assert unique_changes([pr, push]) == merged


def test_conflicting_duplicates_resolve_the_same_way_in_any_order() -> None:
    a = deploy("d1", 0, 1, shas=["x"])
    b = deploy("d1", 0, 1, shas=["y"])
    assert unique_deployments([a, b]) == unique_deployments([b, a])


def test_the_same_commit_in_two_services_is_two_changes() -> None:
    assert len(unique_changes([change("a", 0), change("a", 0, service="billing")])) == 2


def _stored(payload: object) -> tuple[str, dict[str, object], str, datetime]:
    fact = to_fact(
        payload,  # type: ignore[arg-type]
        agency="acme",
        envelope_id="env-1",
        source="rest",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return fact.kind, fact.facts, fact.event_id, fact.occurred_at


def test_stored_deployment_row_becomes_a_deployment() -> None:
    payload = DeploymentRecorded(
        deployment_id="d1",
        service="checkout",
        environment="production",
        status="DEPLOYMENT_STATUS_ROLLED_BACK",
        commit_shas=["a", "b"],
        labels=["hotfix"],
        rollback_of="d0",
    )
    payload.started_at.FromSeconds(1_700_000_000)
    payload.finished_at.FromSeconds(1_700_000_600)
    kind, facts, event_id, occurred_at = _stored(payload)
    d = fact_from_stored(kind, facts, event_id=event_id, occurred_at=occurred_at)
    assert d == Deployment(
        "d1",
        "checkout",
        "production",
        DeploymentStatus.ROLLED_BACK,
        datetime.fromtimestamp(1_700_000_000, UTC),
        datetime.fromtimestamp(1_700_000_600, UTC),
        ("a", "b"),
        ("hotfix",),
        None,
        "d0",
    )


def test_stored_deployment_without_status_is_in_progress() -> None:
    kind, facts, event_id, occurred_at = _stored(DeploymentRecorded(deployment_id="d1"))
    d = fact_from_stored(kind, facts, event_id=event_id, occurred_at=occurred_at)
    assert isinstance(d, Deployment)
    assert d.status is DeploymentStatus.IN_PROGRESS
    assert d.started_at == occurred_at


def test_stored_change_falls_back_to_authored_time() -> None:
    payload = ChangeRecorded(event_id="e1", commit_sha="abc", service="checkout")
    payload.authored_at.FromSeconds(1_700_000_000)
    kind, facts, event_id, occurred_at = _stored(payload)
    c = fact_from_stored(kind, facts, event_id=event_id, occurred_at=occurred_at)
    assert isinstance(c, Change)
    assert c.committed_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert c.commit_sha == "abc"


def test_stored_incident_keeps_its_links() -> None:
    payload = IncidentRecorded(
        incident_id="i1", service="checkout", severity="sev1", caused_by_commit="abc"
    )
    payload.opened_at.FromSeconds(1_700_000_000)
    kind, facts, event_id, occurred_at = _stored(payload)
    i = fact_from_stored(kind, facts, event_id=event_id, occurred_at=occurred_at)
    assert isinstance(i, Incident)
    assert i.caused_by_commit == "abc"
    assert i.caused_by_deployment is None
    assert i.environment == ""
    assert i.opened_at == datetime.fromtimestamp(1_700_000_000, UTC)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(DoraInputError, match="kind"):
        fact_from_stored("audit", {}, event_id="x", occurred_at=h(0))


def test_stored_times_with_nanoseconds_parse() -> None:
    payload = DeploymentRecorded(deployment_id="d1", status="DEPLOYMENT_STATUS_SUCCEEDED")
    payload.finished_at.FromSeconds(1_700_000_000)
    payload.finished_at.nanos = 123_456_789
    facts = MessageToDict(payload, preserving_proto_field_name=True)
    d = fact_from_stored("deployment", facts, event_id="d1", occurred_at=h(0))
    assert isinstance(d, Deployment)
    assert d.finished_at == datetime.fromtimestamp(1_700_000_000.123456, UTC)
