"""Change failure rate, incident linking, recovery time and rework rate, computed by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    DoraConfig,
    Incident,
    LinkingConfig,
    LinkStrategy,
    build_snapshot,
)
from tests.unit.metrics_collector.builders import HOUR, change, deploy, incident, report, window

EXPLICIT = DoraConfig(linking=LinkingConfig(strategy=LinkStrategy.EXPLICIT))


def _config(strategy: LinkStrategy, **kw: object) -> DoraConfig:
    return DoraConfig(linking=LinkingConfig(strategy=strategy, **kw))  # type: ignore[arg-type]


def test_change_failure_rate_worked_example() -> None:
    deployments = [deploy(f"D{k}", 10 * k) for k in range(1, 11)]
    deployments[2] = deploy("D3", 30, status="failed")
    deployments[4] = deploy("D5", 50, status="rolled_back")
    deployments += [
        deploy("D11", 200, status="in_progress"),
        deploy("D12", 210, status="cancelled"),
    ]
    incidents = [
        incident("I1", 71, caused_by="D7"),
        incident("I2", 81, caused_by="D8"),  # two incidents on D8 ...
        incident("I3", 82, caused_by="D8"),  # ... count D8 once
        incident("I4", 90, caused_by="D99"),  # unknown deployment: unlinked
    ]
    cfr = report([], deployments, incidents, config=EXPLICIT)["change_failure_rate"]
    # n = D1..D10 (in progress and cancelled are not counted) = 10
    # failed = D3 (failed), D5 (rolled back), D7 (I1), D8 (I2, I3) = 4  ->  4 / 10 = .4
    # Wilson 95 % of 4/10 = [.168180, .687326] (arithmetic in test_stats)
    assert (cfr["failed"], cfr["n"], cfr["value"]) == (4, 10, 0.4)
    assert cfr["ci95"] == [0.16818, 0.687326]
    assert (cfr["incidents"], cfr["unlinked_incidents"]) == (4, 1)
    assert cfr["band"] == "low"  # .4 > .30


def _failed(
    deployments: list[Deployment],
    incidents: list[Incident],
    config: DoraConfig,
    changes: Sequence[Change] = (),
) -> set[str]:
    snapshot = build_snapshot(changes, deployments, incidents, config)
    return {o.deployment_id for s in snapshot.slices.values() for o in s.outcomes if o.failed}


def _linking_case() -> tuple[list[Deployment], list[Incident]]:
    # A, B, C reached production at 0 h, 10 h, 30 h; I opens at 12 h and names nothing
    deployments = [deploy("A", -0.25, 0), deploy("B", 9.75, 10), deploy("C", 29.75, 30)]
    return deployments, [incident("I", 12, 13)]


@pytest.mark.parametrize(
    ("config", "failed", "why"),
    [
        (EXPLICIT, 0, "no caused_by: nothing is linked"),
        (_config(LinkStrategy.LATEST_BEFORE), 1, "B finished 2 h before, within 7 days"),
        (
            _config(LinkStrategy.LATEST_BEFORE, max_age=timedelta(hours=1)),
            0,
            "B is 2 h old, more than the 1 h maximum age",
        ),
        (_config(LinkStrategy.WINDOW), 2, "A and B finished in [12 - 24 h, 12 h]"),
        (_config(LinkStrategy.WINDOW, window=timedelta(hours=5)), 1, "only B in [7 h, 12 h]"),
    ],
)
def test_linking_strategies_worked_example(config: DoraConfig, failed: int, why: str) -> None:
    deployments, incidents = _linking_case()
    cfr = report([], deployments, incidents, config=config)["change_failure_rate"]
    assert (cfr["failed"], cfr["n"]) == (failed, 3), why
    assert cfr["unlinked_incidents"] == (1 if failed == 0 else 0)


def test_heuristic_linking_trusts_an_explicit_cause_first() -> None:
    deployments, _ = _linking_case()
    named = [incident("I", 12, 13, caused_by="A")]
    outcome = _failed(deployments, named, _config(LinkStrategy.LATEST_BEFORE))
    assert outcome == {"A"}
    ignoring = _config(LinkStrategy.LATEST_BEFORE, explicit_first=False)
    assert _failed(deployments, named, ignoring) == {"B"}


def test_explicit_linking_by_commit_finds_the_deployment_that_shipped_it() -> None:
    changes = [change("x", 0), change("y", 5)]
    deployments = [deploy("A", 1, 2, shas=["x"]), deploy("B", 6, 7, shas=["x", "y"])]
    incidents = [incident("I", 8, caused_by_commit="y"), incident("J", 9, caused_by_commit="x")]
    assert _failed(deployments, incidents, EXPLICIT, changes) == {"A", "B"}


def test_explicit_linking_by_commit_works_for_implicit_commit_sets() -> None:
    changes = [change("x", 0), change("y", 5)]
    deployments = [deploy("A", 1, 2), deploy("B", 6, 7)]  # A ships x, B ships y
    incidents = [incident("I", 8, caused_by_commit="y")]
    assert _failed(deployments, incidents, EXPLICIT, changes) == {"B"}


def test_incident_before_any_deployment_is_unlinked() -> None:
    deployments = [deploy("A", 10, 11)]
    incidents = [incident("I", -5, -4)]
    cfr = report([], deployments, incidents)["change_failure_rate"]
    assert (cfr["failed"], cfr["n"], cfr["value"]) == (0, 1, 0.0)
    assert (cfr["incidents"], cfr["unlinked_incidents"]) == (1, 1)


def test_incident_without_environment_is_a_production_incident() -> None:
    deployments = [deploy("A", 0, 1)]
    incidents = [incident("I", 2, env="")]
    assert report([], deployments, incidents)["change_failure_rate"]["failed"] == 1


def test_ignored_severities_are_not_failures() -> None:
    deployments = [deploy("A", 0, 1)]
    incidents = [incident("I", 2, severity="SEV5")]
    config = DoraConfig(ignored_severities=frozenset({"sev5"}))
    cfr = report([], deployments, incidents, config=config)["change_failure_rate"]
    assert (cfr["failed"], cfr["incidents"]) == (0, 0)


def test_recovery_time_worked_example() -> None:
    deployments = [
        deploy("D1", 9.75, 10, "failed"),  # detected 10 h (it failed)
        deploy("D2", 11.75, 12),  # rolls D1 forward: recovered 12 h -> 2 h
        deploy("D3", 19.75, 20),  # I1 opens 21 h, F fixes it at 22 h -> 1 h
        deploy("F", 21.75, 22, fixes="I1"),
        deploy("D4", 29.75, 30),  # R, a rollback of D4, starts 31 h, ends 31.5 h -> .5 h
        deploy("R", 31, 31.5, rollback_of="D4"),
        deploy("D5", 39.75, 40),  # I2 opens 41 h, never resolved -> unrecovered
    ]
    incidents = [incident("I1", 21, 25, caused_by="D3"), incident("I2", 41, caused_by="D5")]
    r = report([], deployments, incidents, config=EXPLICIT)
    recovery, cfr, rework = r["recovery_time"], r["change_failure_rate"], r["rework_rate"]
    # failed: D1, D3, D4 (rolled back by R), D5 -> 4 of 7
    assert (cfr["failed"], cfr["n"]) == (4, 7)
    # recovered: 1,800  3,600  7,200 s; D5 open.  p50: ceil(1.5) = 2 -> 3,600;
    # p90: ceil(2.7) = 3 -> 7,200; mean 12,600 / 3 = 4,200.
    assert (recovery["n"], recovery["unrecovered"]) == (3, 1)
    assert (recovery["p50_s"], recovery["p90_s"], recovery["p99_s"]) == (3600, 7200, 7200)
    assert recovery["mean_s"] == 4200
    assert recovery["band"] == "high"  # exactly one hour is not "less than one hour"
    # rework: F fixes an incident, R is a rollback -> 2 / 7 = .285714
    # Wilson 95 % of 2/7: [.082219, .641066]
    assert (rework["unplanned"], rework["n"], rework["value"]) == (2, 7, 0.285714)
    assert rework["ci95"] == [0.082219, 0.641066]
    assert rework["band"] is None


def test_a_rollback_recovers_the_failure() -> None:
    deployments = [
        deploy("D1", -0.25, 0),
        deploy("D2", 9.75, 10),  # its status update to rolled_back never arrives
        deploy("R", 11, 11.25, rollback_of="D2"),
    ]
    incidents = [incident("I", 10.5, 12, caused_by="D2")]
    r = report([], deployments, incidents, config=EXPLICIT)
    # detected when I opened (10.5 h); the rollback finished (11.25 h) before I was
    # resolved (12 h): .75 h = 2,700 s
    assert r["recovery_time"]["p50_s"] == 2700
    assert (r["change_failure_rate"]["failed"], r["change_failure_rate"]["n"]) == (1, 3)
    assert r["rework_rate"]["unplanned"] == 1


def test_several_incidents_on_one_deployment_recover_when_all_are_resolved() -> None:
    deployments = [deploy("D1", 0, 0.5)]
    incidents = [
        incident("I1", 1, 2, caused_by="D1"),
        incident("I2", 1.5, 4, caused_by="D1"),
        incident("I3", 3, 3.5, caused_by="D1"),
    ]
    r = report([], deployments, incidents, config=EXPLICIT)
    # one failed deployment, not three; detected 1 h (first open), recovered 4 h (last resolved)
    assert (r["change_failure_rate"]["failed"], r["change_failure_rate"]["n"]) == (1, 1)
    assert r["change_failure_rate"]["value"] == 1.0
    assert r["recovery_time"]["p50_s"] == 3 * HOUR


def test_failed_first_deployment() -> None:
    deployments = [deploy("D1", 0.5, 1, "failed"), deploy("D2", 2.5, 3)]
    r = report([change("a", 0)], deployments)
    assert r["deployment_frequency"]["count"] == 1  # only D2 reached production
    assert (r["change_failure_rate"]["failed"], r["change_failure_rate"]["n"]) == (1, 2)
    assert r["recovery_time"]["p50_s"] == 2 * HOUR  # failed at 1 h, D2 at 3 h
    assert r["lead_time"]["p50_s"] == 3 * HOUR


def test_rework_counts_labels_case_insensitively() -> None:
    deployments = [
        deploy("A", 0, labels=["HotFix"]),
        deploy("B", 10, labels=["unplanned", "config"]),
        deploy("C", 20, labels=["config"]),
        deploy("D", 30),
    ]
    rework = report([], deployments)["rework_rate"]
    # A (HotFix) and B (unplanned) of 4: .5. Wilson, n = 4: z^2/n = .960365, d = 1.960365,
    # centre = (.5 + .480182) / d = .5, half = 1.959964 * sqrt(.0625 + .060023) / d = .349961
    assert (rework["unplanned"], rework["n"], rework["value"]) == (2, 4, 0.5)
    assert rework["ci95"] == [0.150039, 0.849961]


def test_recovery_is_counted_with_the_failed_deployment_window() -> None:
    # D1 fails inside the window; its recovery lands after the window ends: still counted
    deployments = [deploy("D1", 1, 2, "failed"), deploy("D2", 40, 41)]
    r = report([], deployments, win=window(0, 24))
    assert r["recovery_time"]["n"] == 1
    assert r["recovery_time"]["p50_s"] == 39 * HOUR
    assert r["recovery_time"]["n"] + r["recovery_time"]["unrecovered"] == 1


def _named_later() -> tuple[list[Deployment], list[Incident]]:
    # A finished at 0 h; I opened at 11 h naming B, which only finished at 12.25 h
    deployments = [deploy("A", -0.25, 0), deploy("B", 12, 12.25)]
    return deployments, [incident("I", 11, 13, caused_by="B")]


@pytest.mark.parametrize(
    "config",
    [EXPLICIT, DoraConfig(), _config(LinkStrategy.WINDOW)],
    ids=["explicit", "latest_before", "window"],
)
def test_an_incident_naming_a_deployment_finished_after_it_opened_is_an_anomaly(
    config: DoraConfig,
) -> None:
    deployments, incidents = _named_later()
    for order in (deployments + incidents, incidents[::-1] + deployments[::-1]):
        ds = [f for f in order if isinstance(f, Deployment)]
        cfr = report([], ds, [f for f in order if isinstance(f, Incident)], config=config)[
            "change_failure_rate"
        ]
        # Neither B (finished after) nor A (a heuristic would contradict the named cause).
        assert (cfr["failed"], cfr["n"]) == (0, 2)
        assert (cfr["incidents"], cfr["unlinked_incidents"]) == (1, 1)
        assert cfr["anomalies"] == {"incident_before_deployment": 1}


def test_without_explicit_first_the_heuristic_links_and_the_anomaly_is_still_counted() -> None:
    deployments, incidents = _named_later()
    config = _config(LinkStrategy.LATEST_BEFORE, explicit_first=False)
    assert _failed(deployments, incidents, config) == {"A"}
    cfr = report([], deployments, incidents, config=config)["change_failure_rate"]
    assert cfr["anomalies"] == {"incident_before_deployment": 1}


def test_an_incident_opened_when_the_named_deployment_finished_is_linked() -> None:
    deployments = [deploy("B", 12, 12.25)]
    incidents = [incident("I", 12.25, caused_by="B")]
    assert _failed(deployments, incidents, EXPLICIT) == {"B"}
    cfr = report([], deployments, incidents, config=EXPLICIT)["change_failure_rate"]
    assert cfr["anomalies"] == {"incident_before_deployment": 0}


def test_the_anomaly_is_counted_in_the_window_of_the_incidents_opening() -> None:
    deployments, incidents = _named_later()
    r = report([], deployments, incidents, win=window(0, 12), config=EXPLICIT)
    assert r["change_failure_rate"]["anomalies"] == {"incident_before_deployment": 1}
    later = report([], deployments, incidents, win=window(12, 24), config=EXPLICIT)
    assert later["change_failure_rate"]["anomalies"] == {"incident_before_deployment": 0}
