"""DORA inputs as real tools send them: head commits, one service identity, merged starts,
reopened incidents and updated severities, config-only deployments (times in hours after T0)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cortex_contracts import DeploymentRecorded
from metrics_collector.domain.facts.mapping import to_fact
from metrics_collector.domain.facts.model import (
    fact_from_stored,
    merge_reports,
    unique_deployments,
    unique_incidents,
)
from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    DoraConfig,
    build_snapshot,
)
from tests.unit.metrics_collector.builders import HOUR, change, deploy, h, incident, report


def _lead_times(changes: list[Change], deployments: list[Deployment]) -> dict[str, str]:
    snapshot = build_snapshot(changes, deployments, [], DoraConfig())
    piece = snapshot.slices["checkout", "production"]
    return {lt.commit_sha: lt.deployment_id for lt in piece.lead_times()}


def test_a_head_commit_ends_the_commit_set_at_that_commit() -> None:
    # Pushes a, b, c before the deployment starts; it pins b: c waits for the next one.
    changes = [change("a", 0), change("b", 1), change("c", 2)]
    pinned = replace(deploy("D1", 3, 3.5), head_commit="b")
    later = replace(deploy("D2", 5, 5.5), head_commit="c")
    assert _lead_times(changes, [pinned, later]) == {"a": "D1", "b": "D1", "c": "D2"}


def test_a_redeploy_of_an_older_head_ships_no_new_commit() -> None:
    changes = [change("a", 0), change("b", 1)]
    first = replace(deploy("D1", 2, 2.5), head_commit="b")
    redeploy_a = replace(deploy("D2", 4, 4.5), head_commit="a")
    assert _lead_times(changes, [first, redeploy_a]) == {"a": "D1", "b": "D1"}


def test_a_head_no_push_reported_is_the_commit_set_alone() -> None:
    changes = [change("a", 0)]
    unknown_head = replace(deploy("D1", 2, 2.5), head_commit="f00d")
    assert _lead_times(changes, [unknown_head]) == {}  # not a: the head is the set


def test_a_deployment_that_ships_no_commits_takes_none_and_leaves_them_to_the_next() -> None:
    changes = [change("a", 0)]
    config_only = replace(deploy("C1", 1, 1.5), ships_no_commits=True)
    assert _lead_times(changes, [config_only, deploy("D2", 3, 3.5)]) == {"a": "D2"}


def test_services_named_in_any_case_are_one_service() -> None:
    stored = {
        "service": "Hello-World",
        "commit_sha": "a" * 40,
        "committed_at": "2025-03-03T00:00:00Z",
    }
    fact = fact_from_stored("change", stored, event_id="x", occurred_at=h(0))
    assert fact.service == "hello-world"  # facts stored before the rule keep working
    d = to_fact(
        DeploymentRecorded(deployment_id="github-1", service="Hello-World", environment="prod"),
        agency="acme",
        envelope_id="e",
        source="webhook-github",
        occurred_at=h(0),
    )
    assert (d.service, d.facts["service"], d.facts["service_name"]) == (
        "hello-world",
        "hello-world",
        "Hello-World",
    )
    cfr = report(
        [],
        [deploy("D1", 0, 0.5, service="hello-world")],
        [incident("pagerduty-1", 1, 2, service="hello-world")],
        service="hello-world",
    )["change_failure_rate"]
    assert cfr["failed"] == 1


def test_merging_a_deployment_keeps_its_earliest_start() -> None:
    # GitLab: `running` at 10:00 starts it, `success` at 10:20 sends 10:20 as start and finish.
    running = deploy("gitlab-15", 10, None, "in_progress")
    success = deploy("gitlab-15", 10 + 20 / 60, 10 + 20 / 60)
    for reports in ([running, success], [success, running]):
        merged = merge_reports(reports)
        assert isinstance(merged, Deployment)
        assert (merged.status, merged.started_at) == ("succeeded", h(10))
        assert unique_deployments(reports)["gitlab-15"] == merged


def _at(hours: float) -> datetime:
    return h(hours).astimezone(UTC)


def test_a_reopened_incident_is_open_until_resolved_again() -> None:
    triggered = incident("pd-1", 1)
    resolved = incident("pd-1", 1, 2)
    reopened = replace(incident("pd-1", 1), reopened_at=_at(3))
    resolved_again = incident("pd-1", 1, 5)
    still_open = unique_incidents([resolved, reopened, triggered])["pd-1"]
    assert (still_open.resolved_at, still_open.reopened_at) == (None, _at(3))
    final = unique_incidents([reopened, resolved_again, triggered, resolved])["pd-1"]
    assert (final.resolved_at, final.reopened_at) == (_at(5), _at(3))
    recovery = report([], [deploy("D1", 0, 0.5)], [reopened, resolved_again, triggered, resolved])[
        "recovery_time"
    ]
    assert recovery["p50_s"] == 4 * HOUR  # opened at 1 h, finally resolved at 5 h


def test_the_latest_reported_severity_wins() -> None:
    triggered = replace(incident("pd-1", 1, severity="p3"), reported_at=_at(1))
    raised = replace(incident("pd-1", 1, severity="p1"), reported_at=_at(1.5))
    resolved = replace(incident("pd-1", 1, 2, severity="p1"), reported_at=_at(2))
    for reports in ([resolved, triggered, raised], [triggered, raised]):
        assert unique_incidents(reports)["pd-1"].severity == "p1"
    stale_resolve = replace(resolved, severity="p3", reported_at=_at(1.2))
    assert unique_incidents([stale_resolve, raised])["pd-1"].severity == "p1"
