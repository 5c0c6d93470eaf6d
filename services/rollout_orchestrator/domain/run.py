"""The deployment run's state machine: statuses, which command moves which status, and what a
reconciler tick does next for a run (pure: no I/O, the caller brings the time and the rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rollout_orchestrator.domain.gate import Verdict

RunStatus = Literal[
    "pending_approval",
    "running",
    "paused",
    "succeeded",
    "rolling_back",
    "rolled_back",
    "aborted",
    "rejected",
    "failed",
]
RUN_STATUSES: tuple[RunStatus, ...] = (
    "pending_approval",
    "running",
    "paused",
    "succeeded",
    "rolling_back",
    "rolled_back",
    "aborted",
    "rejected",
    "failed",
)
ACTIVE: frozenset[RunStatus] = frozenset({"pending_approval", "running", "paused", "rolling_back"})
"""A run that holds its targets: no other run of the agency may take them."""
TERMINAL: frozenset[RunStatus] = frozenset(RUN_STATUSES) - ACTIVE
DRIVEN: frozenset[RunStatus] = frozenset({"running", "rolling_back"})
"""What the reconciler drives on its own (the others wait for a person or an approval)."""
BatchStatus = Literal["pending", "observing", "passed", "failed", "reverted"]
Command = Literal["pause", "resume", "abort", "rollback"]
COMMANDS: tuple[Command, ...] = ("pause", "resume", "abort", "rollback")
ActorKind = Literal["person", "gate", "policy", "approval", "watchdog", "system"]
RollbackTrigger = Literal["manual", "health_gate", "policy_violation", "watchdog"]
OnStuck = Literal["pause", "rollback"]

# command → (the statuses it applies to, the status it leads to, where it is already done)
_COMMANDS: dict[Command, tuple[frozenset[RunStatus], RunStatus, frozenset[RunStatus]]] = {
    "pause": (frozenset({"running"}), "paused", frozenset({"paused"})),
    "resume": (frozenset({"paused"}), "running", frozenset({"running"})),
    # abort of a rollback whose agents never all report (dead agents): the run ends, and
    # the agents keep the snapshot revision they were told (beyond the contract's list).
    "abort": (
        frozenset({"pending_approval", "running", "paused", "rolling_back"}),
        "aborted",
        frozenset({"aborted"}),
    ),
    "rollback": (
        frozenset({"pending_approval", "running", "paused", "succeeded"}),
        "rolling_back",
        frozenset({"rolling_back", "rolled_back"}),
    ),
}


@dataclass(frozen=True, slots=True)
class Move:
    """The command changes the run to ``to``."""

    to: RunStatus


@dataclass(frozen=True, slots=True)
class AlreadyThere:
    """The run is already where the command leads: nothing changes, nothing is recorded."""


@dataclass(frozen=True, slots=True)
class NotAllowed:
    allowed: tuple[Command, ...]  # the commands the run's status admits


def allowed_commands(status: RunStatus) -> tuple[Command, ...]:
    return tuple(c for c in COMMANDS if status in _COMMANDS[c][0])


def apply_command(status: RunStatus, command: Command) -> Move | AlreadyThere | NotAllowed:
    """What ``command`` does to a run in ``status`` (idempotent: repeating it changes nothing)."""
    sources, target, done = _COMMANDS[command]
    if status in done:
        return AlreadyThere()
    if status in sources:
        return Move(target)
    return NotAllowed(allowed_commands(status))


# --- what a tick does next ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchState:
    index: int
    status: BatchStatus
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApplyBatch:
    """Set the batch's agents' desired revision to the change's: it starts being observed."""

    index: int


@dataclass(frozen=True, slots=True)
class Judge:
    """Evaluate the health gate of the batch under observation."""

    index: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Succeed:
    """Every batch passed."""


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Nothing to do before ``at`` (the pause between batches)."""

    at: datetime


Step = ApplyBatch | Judge | Succeed | WaitUntil


def next_step(batches: Sequence[BatchState], pause_between: timedelta, now: datetime) -> Step:
    """The next step of a running run: judge the batch under observation; else apply the next
    pending batch once ``pause_between`` has passed since the previous one passed; else (all
    passed) succeed."""
    ordered = sorted(batches, key=lambda b: b.index)
    for batch in ordered:
        if batch.status == "observing":
            assert batch.started_at is not None
            return Judge(batch.index, batch.started_at)
    previous: BatchState | None = None
    for batch in ordered:
        if batch.status == "pending":
            if previous is not None and previous.finished_at is not None:
                due = previous.finished_at + pause_between
                if now < due:
                    return WaitUntil(due)
            return ApplyBatch(batch.index)
        previous = batch
    return Succeed()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a batch's gate verdict does to the run."""

    batch_status: BatchStatus | None  # None: still observing
    run_status: RunStatus | None  # None: the run's status stays


def judge(verdict: Verdict, on_failure: Literal["rollback", "pause"]) -> Outcome:
    """pass: the batch passed (the run goes on); fail: the batch failed and the run rolls
    back or pauses as the plan says; inconclusive: keep observing."""
    if verdict.outcome == "pass":
        return Outcome("passed", None)
    if verdict.outcome == "fail":
        return Outcome("failed", "rolling_back" if on_failure == "rollback" else "paused")
    return Outcome(None, None)


def is_stuck(
    status: RunStatus, progress_at: datetime, max_no_progress: timedelta, now: datetime
) -> bool:
    """A running run without a transition or a new batch for longer than its plan allows."""
    return status == "running" and now - progress_at > max_no_progress


def stuck_target(on_stuck: OnStuck) -> RunStatus:
    return "rolling_back" if on_stuck == "rollback" else "paused"


# --- overrides ------------------------------------------------------------------------------

OverrideLimit = Literal["max_agents_per_batch", "max_config_changes", "freeze_window"]
OVERRIDE_OF_REASON: dict[str, OverrideLimit] = {
    "batch_too_large": "max_agents_per_batch",
    "too_many_config_changes": "max_config_changes",
    "freeze_window": "freeze_window",
}
"""The policy reason codes a plan may ask to override, and the limit each one is."""


def overrides_cover(blocking_codes: Sequence[str], asked: Sequence[OverrideLimit]) -> bool:
    """Whether every blocking reason of a failed evaluation is a limit the plan asks to
    override (then an approval naming the overrides may let it run)."""
    wanted = set(asked)
    return bool(blocking_codes) and all(
        OVERRIDE_OF_REASON.get(code) in wanted for code in blocking_codes
    )
