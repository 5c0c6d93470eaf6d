"""DORA of platform rollouts, from the orchestrator's own events: a revision's lead time, a
rolled-back run's failure and recovery, and which change wins when a run names commits."""

from __future__ import annotations

from cortex_contracts import encode
from cortex_kit.messaging.outbox import PendingEvent
from metrics_collector.domain.facts.model import Change, Deployment, Fact, fact_from_stored
from metrics_collector.domain.metrics.calculators import DoraReport
from metrics_collector.events.decoding import received_facts
from tests.unit.metrics_collector.builders import HOUR, change, h, report
from tests.unit.metrics_collector.rollout_runs import envelope, finished, rolled_back, run


def facts(*events: PendingEvent) -> list[Fact]:
    stored = [f for event in events for f in received_facts(encode(envelope(event))).facts]
    return [
        fact_from_stored(f.kind, f.facts, event_id=f.event_id, occurred_at=f.occurred_at)
        for f in stored
    ]


def dora(found: list[Fact], extra_changes: list[Change] | None = None, **kw: object) -> DoraReport:
    changes = [f for f in found if isinstance(f, Change)] + (extra_changes or [])
    deployments = [f for f in found if isinstance(f, Deployment)]
    return report(changes, deployments, **kw)  # type: ignore[arg-type]


def test_a_revision_only_rollout_has_a_lead_time_from_its_creation_to_production() -> None:
    # created 1:00, started 2:00 (approval), all agents on it 2:30
    found = facts(finished(run("r1", h(1), h(2)), h(2.5)))
    r = dora(found)
    assert r["deployment_frequency"]["count"] == 1
    assert (r["lead_time"]["n"], r["lead_time"]["p50_s"]) == (1, 1.5 * HOUR)


def test_a_revision_staged_first_is_measured_to_production_from_its_first_creation() -> None:
    found = facts(
        finished(run("stg", h(1), h(1), environment="Staging"), h(2)),
        finished(run("prd", h(5), h(5)), h(6)),
    )
    assert dora(found)["lead_time"]["p50_s"] == 5 * HOUR  # 1:00 -> 6:00
    assert dora(found, environment="staging")["lead_time"]["p50_s"] == 1 * HOUR


def test_a_rolled_back_rollout_fails_recovers_and_its_revision_waits_for_the_retry() -> None:
    first = run("r1", h(0), h(1))
    back, rollback = rolled_back(first, detected=h(1.5), reverted=h(1.6))
    retry = run("r2", h(3), h(3))
    found = facts(finished(back, h(1.6)), rollback, finished(retry, h(4)))
    r = dora(found)
    # r1 (rolled back), its rollback r1:rollback, r2: three deployments, one failed
    assert r["deployment_frequency"]["count"] == 3
    assert (r["change_failure_rate"]["failed"], r["change_failure_rate"]["n"]) == (1, 3)
    assert r["recovery_time"]["n"] == 1
    assert r["recovery_time"]["p50_s"] == 360.0  # detection 1:30 -> all reverted 1:36
    assert r["rework_rate"]["unplanned"] == 1  # the rollback
    assert (r["lead_time"]["n"], r["lead_time"]["p50_s"]) == (1, 4 * HOUR)  # created 0:00 -> r2


def test_a_success_rolled_back_later_is_a_failure_and_delivers_nothing() -> None:
    ok = run("r1", h(0), h(1))
    _, rollback = rolled_back(ok, detected=h(5), reverted=h(5.25))
    r = dora(facts(finished(ok, h(2)), rollback))
    assert r["change_failure_rate"]["failed"] == 1
    assert r["recovery_time"]["p50_s"] == 0.25 * HOUR
    assert r["lead_time"]["n"] == 0


def test_a_rollout_naming_commits_counts_the_commits_lead_times_not_its_revision() -> None:
    found = facts(finished(run("r1", h(1), h(2), commit_shas=("a1",)), h(3)))
    r = dora(found, [change("a1", 0, service="support-bot")])
    assert (r["lead_time"]["n"], r["lead_time"]["p50_s"]) == (1, 3 * HOUR)


def test_a_revision_only_rollout_takes_no_commit_of_its_service() -> None:
    # a push to the service's repository is not shipped by a prompt rollout
    found = facts(finished(run("r1", h(1), h(2)), h(3)))
    r = dora(found, [change("c9", 0.5, service="support-bot")])
    assert (r["lead_time"]["n"], r["lead_time"]["p50_s"]) == (1, 2 * HOUR)
