"""Commit sets and change lead time, computed by hand (times in hours after T0)."""

from __future__ import annotations

from datetime import timedelta

from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    DeploymentOutcome,
    DoraConfig,
    build_snapshot,
)
from tests.unit.metrics_collector.builders import DAY, HOUR, change, deploy, report, window


def _lead_times(
    changes: list[Change], deployments: list[Deployment], config: DoraConfig | None = None
) -> dict[str, tuple[str, float]]:
    snapshot = build_snapshot(changes, deployments, [], config or DoraConfig())
    piece = snapshot.slices["checkout", "production"]
    return {lt.commit_sha: (lt.deployment_id, lt.seconds / HOUR) for lt in piece.lead_times()}


def test_lead_time_worked_example_with_explicit_commits() -> None:
    changes = [change("a", 0), change("b", 2), change("c", 5), change("d", 20)]
    deployments = [
        deploy("D1", 6, 6.5, shas=["a", "b"]),
        deploy("D2", 21, 22, "failed", shas=["c", "d"]),  # failed: ships nothing
        deploy("D3", 30, 31, shas=["c", "d"]),
    ]
    lead = report(changes, deployments)["lead_time"]
    # a: 6.5 - 0 = 6.5 h = 23,400 s     b: 6.5 - 2 = 4.5 h = 16,200 s
    # c: 31 - 5 = 26 h = 93,600 s       d: 31 - 20 = 11 h = 39,600 s
    # sorted: 16,200  23,400  39,600  93,600   (n = 4)
    # p50: rank ceil(.5 * 4) = 2 -> 23,400; p90: ceil(3.6) = 4 -> 93,600; p99: ceil(3.96) = 4
    # mean: 172,800 / 4 = 43,200 (12 h); band of the median (6.5 h < 1 day): elite
    assert lead["n"] == 4
    assert (lead["p50_s"], lead["p90_s"], lead["p99_s"]) == (23_400, 93_600, 93_600)
    assert lead["mean_s"] == 43_200
    assert lead["anomalies"] == 0
    assert lead["band"] == "elite"
    # 16,200, 23,400 and 39,600 fall in (4 h, 12 h]; 93,600 in (1 d, 3 d]
    counts = {(b["lower_s"], b["upper_s"]): b["count"] for b in lead["histogram"]}
    assert counts[4 * HOUR, 12 * HOUR] == 3
    assert counts[DAY, 3 * DAY] == 1
    assert sum(counts.values()) == 4


def test_implicit_commit_set_runs_from_the_previous_successful_deployment() -> None:
    changes = [change("a", 0), change("b", 2), change("c", 5), change("d", 20)]
    deployments = [
        deploy("D1", 3, 3.5),  # first: changes committed in (3 h - 30 days, 3 h] = a, b
        deploy("D2", 10, 10.5, "failed"),  # (3 h, 10 h] = c, but failed
        deploy("D3", 24, 24.5),  # previous success is D1: (3 h, 24 h] = c, d
    ]
    assert _lead_times(changes, deployments) == {
        "a": ("D1", 3.5),  # 3.5 - 0
        "b": ("D1", 1.5),  # 3.5 - 2
        "c": ("D3", 19.5),  # 24.5 - 5
        "d": ("D3", 4.5),  # 24.5 - 20
    }
    outcomes = {o.deployment_id: o.commit_count for o in _outcomes(changes, deployments)}
    assert outcomes == {"D1": 2, "D2": 1, "D3": 2}


def _outcomes(
    changes: list[Change], deployments: list[Deployment]
) -> tuple[DeploymentOutcome, ...]:
    return build_snapshot(changes, deployments, []).slices["checkout", "production"].outcomes


def test_a_commit_made_during_a_rollout_waits_for_the_next_one() -> None:
    # x is committed after D1 started (3 h) but before it finished (4 h)
    changes = [change("x", 3.5)]
    deployments = [deploy("D1", 3, 4), deploy("D2", 10, 11)]
    assert _lead_times(changes, deployments) == {"x": ("D2", 7.5)}  # 11 - 3.5


def test_first_deployment_takes_only_the_lookback() -> None:
    # 40 days before the first deployment is beyond the default 30-day lookback
    changes = [change("old", -40 * 24), change("new", -24)]
    deployments = [deploy("D1", 0, 1)]
    assert _lead_times(changes, deployments) == {"new": ("D1", 25.0)}
    longer = DoraConfig(first_deployment_lookback=timedelta(days=60))
    assert _lead_times(changes, deployments, longer) == {
        "old": ("D1", 40 * 24 + 1.0),
        "new": ("D1", 25.0),
    }


def test_failed_first_deployment_leaves_its_commits_to_the_first_success() -> None:
    # D1 failed, so D2 has no previous success either: the lookback rule applies again.
    changes = [change("a", 0)]
    deployments = [deploy("D1", 1, 1.5, "failed"), deploy("D2", 2.5, 3)]
    assert _lead_times(changes, deployments) == {"a": ("D2", 3.0)}  # 3 - 0


def test_rolled_back_deployment_does_not_deliver_and_is_no_boundary() -> None:
    changes = [change("a", 0), change("x", 9), change("y", 15)]
    deployments = [
        deploy("D1", 1, 2),  # a
        deploy("D2", 10, 10.5),  # x, but rolled back by R (its own status never updated)
        deploy("R", 11, 11.25, rollback_of="D2"),  # a rollback ships no new commits
        deploy("D3", 20, 21),  # previous forward success is D1: (1 h, 20 h] = x, y
    ]
    assert _lead_times(changes, deployments) == {
        "a": ("D1", 2.0),
        "x": ("D3", 12.0),  # 21 - 9
        "y": ("D3", 6.0),  # 21 - 15
    }


def test_negative_spans_are_counted_as_anomalies_not_lead_times() -> None:
    # z claims a commit time (10 h) after the deployment that shipped it finished (5 h)
    changes = [change("a", 0), change("z", 10)]
    deployments = [deploy("D1", 4, 5, shas=["a", "z"])]
    lead = report(changes, deployments)["lead_time"]
    assert lead["n"] == 1
    assert lead["p50_s"] == 5 * HOUR
    assert lead["anomalies"] == 1


def test_lead_time_counts_the_first_successful_deployment_only() -> None:
    # a is listed again by a later redeploy: its lead time stays with D1
    changes = [change("a", 0)]
    deployments = [deploy("D1", 1, 2, shas=["a"]), deploy("D2", 5, 6, shas=["a"])]
    assert _lead_times(changes, deployments) == {"a": ("D1", 2.0)}


def test_lead_time_is_per_environment() -> None:
    changes = [change("a", 0)]
    deployments = [deploy("S1", 1, 2, env="staging"), deploy("P1", 5, 6)]
    assert report(changes, deployments)["lead_time"]["p50_s"] == 6 * HOUR
    staging = report(changes, deployments, environment="staging")["lead_time"]
    assert staging["p50_s"] == 2 * HOUR


def test_changes_of_another_service_are_not_attributed() -> None:
    changes = [change("a", 0, service="billing")]
    deployments = [deploy("D1", 1, 2)]
    assert report(changes, deployments)["lead_time"]["n"] == 0


def test_lead_time_is_placed_at_the_delivering_deployment() -> None:
    # committed before the window, delivered inside it: counted
    changes = [change("a", -48)]
    deployments = [deploy("D1", 1, 2, shas=["a"])]
    lead = report(changes, deployments, win=window(0, 24))["lead_time"]
    assert lead["n"] == 1
    assert lead["p50_s"] == 50 * HOUR
