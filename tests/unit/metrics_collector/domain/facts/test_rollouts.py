"""The rollout orchestrator's deploy.* events, as its own builders make them, become facts:
the run a deployment, its revision a change when it names no commits."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cortex_contracts import DeploymentFinished, encode
from cortex_kit.messaging.outbox import PendingEvent
from metrics_collector.domain.facts.mapping import DeliveryFact, merge_versions, to_facts
from metrics_collector.domain.facts.rollouts import revision_change
from metrics_collector.events.decoding import received_facts
from tests.unit.metrics_collector.rollout_runs import envelope, finished, payload, rolled_back, run

T = datetime(2025, 3, 3, 9, tzinfo=UTC)


def facts_of(event: PendingEvent) -> list[DeliveryFact]:
    received = received_facts(encode(envelope(event)))
    assert received.refused == []
    return received.facts


def test_a_run_without_commits_ships_its_revision_created_when_the_run_was() -> None:
    event = finished(run("run-1", T, T + timedelta(hours=1)), T + timedelta(hours=2))
    deployment, change = facts_of(event)
    assert (deployment.kind, deployment.event_id) == ("deployment", "run-1")
    assert deployment.facts["commit_shas"] == ["revision:rev-2"]
    assert deployment.facts["status"] == "DEPLOYMENT_STATUS_SUCCEEDED"
    assert (change.kind, change.event_id) == ("change", "revision:support-bot@rev-2")
    assert change.facts["commit_sha"] == "revision:rev-2"
    assert change.facts["committed_at"] == "2025-03-03T09:00:00Z"
    assert change.occurred_at == T
    assert change.envelope_id == f"{deployment.envelope_id}/revision"


def test_a_run_naming_commits_ships_those_and_its_revision_is_no_change() -> None:
    event = finished(
        run("run-1", T, T + timedelta(hours=1), commit_shas=("a1", "b2")), T + timedelta(hours=2)
    )
    [deployment] = facts_of(event)
    assert deployment.facts["commit_shas"] == ["a1", "b2"]


def test_a_revision_change_is_one_fact_per_service_whatever_its_spelling() -> None:
    upper = finished(run("run-1", T, T, service="Support-Bot"), T + timedelta(hours=1))
    lower = finished(run("run-2", T, T, service="support-bot"), T + timedelta(hours=1))
    assert facts_of(upper)[1].event_id == facts_of(lower)[1].event_id
    other = finished(run("run-3", T, T, service="billing-bot"), T + timedelta(hours=1))
    assert facts_of(other)[1].event_id == "revision:billing-bot@rev-2"


def test_without_a_creation_time_the_revision_is_created_when_the_run_started() -> None:
    sent = payload(finished(run("run-1", T, T + timedelta(hours=1)), T + timedelta(hours=2)))
    assert isinstance(sent, DeploymentFinished)
    sent.ClearField("created_at")
    change = revision_change(sent)
    assert change is not None
    assert change.committed_at.ToDatetime(tzinfo=UTC) == T + timedelta(hours=1)


def test_a_revision_rolled_out_by_several_runs_was_created_by_the_first() -> None:
    # staging first (created 09:00), production later (11:00), a retry (13:00): in any order
    # of arrival, the change is the 09:00 one.
    def at(hours: int) -> datetime:
        return T + timedelta(hours=hours)

    runs = [
        finished(run("stg", at(0), at(0), environment="staging"), at(1)),
        finished(run("prd", at(2), at(2)), at(3)),
        finished(run("prd-2", at(4), at(4)), at(5)),
    ]
    changes = [facts_of(e)[1] for e in runs]
    for order in itertools.permutations(changes):
        merged = merge_versions(list(order))
        assert merged.facts["committed_at"] == "2025-03-03T09:00:00Z"
        assert merged.occurred_at == T


def test_a_rollback_is_a_deployment_from_detection_to_every_agent_reverted() -> None:
    row = run("run-1", T, T)
    back, event = rolled_back(row, T + timedelta(hours=1), T + timedelta(hours=1, seconds=40))
    [rollback] = facts_of(event)
    assert rollback.event_id == "run-1:rollback"
    assert rollback.facts["rollback_of"] == "run-1"
    assert rollback.facts["started_at"] == "2025-03-03T10:00:00Z"  # detected, not revert start
    assert rollback.facts["finished_at"] == "2025-03-03T10:00:40Z"
    assert "commit_shas" not in rollback.facts
    assert back.status == "rolled_back"


def test_a_finished_run_is_two_versions_of_one_envelope_its_deployment_and_its_revision() -> None:
    sent = payload(finished(run("run-1", T, T), T + timedelta(hours=1)))
    facts = to_facts(sent, agency="acme", envelope_id="e", source="s", occurred_at=T)
    assert [(f.kind, f.envelope_id) for f in facts] == [
        ("deployment", "e"),
        ("change", "e/revision"),
    ]
    named = replace(run("run-2", T, T), commit_shas=["c3"])
    with_commits = payload(finished(named, T + timedelta(hours=1)))
    facts = to_facts(with_commits, agency="acme", envelope_id="e", source="s", occurred_at=T)
    assert [(f.kind, f.envelope_id) for f in facts] == [("deployment", "e")]
