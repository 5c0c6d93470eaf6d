"""``cortex_rollout_*`` series. Labels are bounded words only (statuses, outcomes, reason
codes of the gate): never an agency, a run id, an agent id or a revision."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

from rollout_orchestrator.deployments.rows import Run
from rollout_orchestrator.domain.run import RUN_STATUSES

BATCH_SIZE = Histogram(
    "cortex_rollout_batch_size",
    "Agents told a new revision per batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10_000),
)
BATCH_VERDICTS = Counter(
    "cortex_rollout_batch_verdicts_total",
    "Batch verdicts, by outcome and the gate's reason code.",
    ["outcome", "reason"],
)
DETECTION_TO_ROLLBACK = Histogram(
    "cortex_rollout_detection_to_rollback_seconds",
    "From the failure's detection (the failing reading, the violation, the command) to every "
    "touched agent running its snapshot revision again.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
ROLLBACK_DURATION = Histogram(
    "cortex_rollout_rollback_duration_seconds",
    "From the rollback's start (agents told their snapshot revision) to all reverted.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
RUNS = Gauge(
    "cortex_rollout_runs",
    "Deployment runs by status (from the database; every replica reports the same value: "
    "take max, not sum).",
    ["status"],
)
STUCK = Counter("cortex_rollout_stuck_runs_total", "Runs the watchdog found without progress.")
OVERRIDES = Counter(
    "cortex_rollout_overrides_total", "Deployment runs created with a policy override asked."
)
TRANSITIONS = Counter(
    "cortex_rollout_transitions_total", "Run status changes, by the status reached.", ["to"]
)


def verdict(outcome: str, reason: str) -> None:
    BATCH_VERDICTS.labels(outcome, reason).inc()


def transitioned(_from: str, to: str) -> None:
    TRANSITIONS.labels(to).inc()


def rolled_back(run: Run) -> None:
    end = run.rollback_finished_at
    if end is None:
        return
    if run.rollback_detected_at is not None:
        DETECTION_TO_ROLLBACK.observe(max(0.0, (end - run.rollback_detected_at).total_seconds()))
    if run.rollback_started_at is not None:
        ROLLBACK_DURATION.observe(max(0.0, (end - run.rollback_started_at).total_seconds()))


def runs(counts: Mapping[str, int]) -> None:
    for status in RUN_STATUSES:
        RUNS.labels(status).set(counts.get(status, 0))
