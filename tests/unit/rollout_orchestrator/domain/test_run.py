"""The run's state machine: commands (idempotent, refused with what is allowed), the next step
of a running run, a verdict's outcome, the watchdog and overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout_orchestrator.domain.gate import Evidence, Verdict
from rollout_orchestrator.domain.run import (
    ACTIVE,
    COMMANDS,
    RUN_STATUSES,
    TERMINAL,
    AlreadyThere,
    ApplyBatch,
    BatchState,
    Judge,
    Move,
    NotAllowed,
    Succeed,
    WaitUntil,
    allowed_commands,
    apply_command,
    is_stuck,
    judge,
    next_step,
    overrides_cover,
    stuck_target,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
statuses = st.sampled_from(RUN_STATUSES)
commands = st.sampled_from(COMMANDS)


@given(statuses, commands)
def test_a_command_done_once_is_already_there_the_second_time(status: str, command: str) -> None:
    first = apply_command(status, command)  # type: ignore[arg-type]
    if isinstance(first, Move):
        assert isinstance(apply_command(first.to, command), AlreadyThere)  # type: ignore[arg-type]


@given(statuses, commands)
def test_a_refused_command_lists_exactly_the_allowed_ones(status: str, command: str) -> None:
    outcome = apply_command(status, command)  # type: ignore[arg-type]
    if isinstance(outcome, NotAllowed):
        assert command not in outcome.allowed
        assert all(isinstance(apply_command(status, c), Move) for c in outcome.allowed)  # type: ignore[arg-type]


@given(st.sampled_from(sorted(TERMINAL - {"rolled_back"})), commands)
def test_an_ended_run_admits_no_command_except_rollback_of_a_success(
    status: str, command: str
) -> None:
    outcome = apply_command(status, command)  # type: ignore[arg-type]
    if status == "succeeded" and command == "rollback":
        assert outcome == Move("rolling_back")
    elif status == "aborted" and command == "abort":
        assert isinstance(outcome, AlreadyThere)
    else:
        assert isinstance(outcome, NotAllowed)


@pytest.mark.parametrize(
    ("status", "command", "to"),
    [
        ("running", "pause", "paused"),
        ("paused", "resume", "running"),
        ("running", "abort", "aborted"),
        ("pending_approval", "abort", "aborted"),
        ("pending_approval", "rollback", "rolling_back"),
        ("paused", "rollback", "rolling_back"),
        ("succeeded", "rollback", "rolling_back"),
    ],
)
def test_the_contract_moves(status: str, command: str, to: str) -> None:
    assert apply_command(status, command) == Move(to)  # type: ignore[arg-type]


def test_rollback_of_a_rolled_back_run_is_a_no_op_and_resume_of_a_success_is_refused() -> None:
    assert isinstance(apply_command("rolled_back", "rollback"), AlreadyThere)
    assert apply_command("succeeded", "resume") == NotAllowed(("rollback",))
    assert allowed_commands("running") == ("pause", "abort", "rollback")


def test_active_and_terminal_split_every_status() -> None:
    assert set(RUN_STATUSES) == ACTIVE | TERMINAL
    assert not ACTIVE & TERMINAL


def batch(
    index: int, status: str, started: int | None = None, finished: int | None = None
) -> BatchState:
    def at(s: int | None) -> datetime | None:
        return None if s is None else T0 + timedelta(seconds=s)

    return BatchState(index, status, at(started), at(finished))  # type: ignore[arg-type]


def test_the_first_pending_batch_is_applied_at_once() -> None:
    assert next_step([batch(0, "pending"), batch(1, "pending")], timedelta(60), T0) == ApplyBatch(0)


def test_the_observed_batch_is_judged() -> None:
    step = next_step([batch(0, "passed", 0, 10), batch(1, "observing", 10)], timedelta(0), T0)
    assert step == Judge(1, T0 + timedelta(seconds=10))


def test_the_next_batch_waits_for_the_pause_after_the_previous_passed() -> None:
    batches = [batch(0, "passed", 0, 10), batch(1, "pending")]
    pause = timedelta(seconds=30)
    assert next_step(batches, pause, T0 + timedelta(seconds=20)) == WaitUntil(
        T0 + timedelta(seconds=40)
    )
    assert next_step(batches, pause, T0 + timedelta(seconds=40)) == ApplyBatch(1)


def test_every_batch_passed_is_success() -> None:
    assert next_step([batch(0, "passed", 0, 1), batch(1, "passed", 1, 2)], timedelta(0), T0) == (
        Succeed()
    )


@given(st.lists(st.sampled_from(["pending", "passed"]), min_size=1, max_size=8))
def test_next_step_never_skips_a_pending_batch(kinds: list[str]) -> None:
    ordered = sorted(kinds, key=lambda k: k == "pending")  # passed ones first, as runs go
    batches = [
        batch(i, k, 0 if k == "passed" else None, 0 if k == "passed" else None)
        for i, k in enumerate(ordered)
    ]
    step = next_step(batches, timedelta(0), T0)
    pending = [b.index for b in batches if b.status == "pending"]
    assert step == (ApplyBatch(pending[0]) if pending else Succeed())


def verdict(outcome: str) -> Verdict:
    evidence = Evidence(1, 0, 1, 1, 1.0, 1, 1, T0, T0)
    return Verdict(outcome, "healthy", evidence)  # type: ignore[arg-type]


def test_a_failed_gate_rolls_back_or_pauses_as_the_plan_says() -> None:
    assert judge(verdict("fail"), "rollback").run_status == "rolling_back"
    assert judge(verdict("fail"), "pause").run_status == "paused"
    assert judge(verdict("pass"), "pause").batch_status == "passed"
    assert judge(verdict("inconclusive"), "rollback").batch_status is None


def test_the_watchdog_watches_running_runs_only() -> None:
    limit = timedelta(seconds=60)
    assert is_stuck("running", T0, limit, T0 + timedelta(seconds=61))
    assert not is_stuck("running", T0, limit, T0 + timedelta(seconds=60))
    assert not is_stuck("paused", T0, limit, T0 + timedelta(days=1))
    assert stuck_target("rollback") == "rolling_back"
    assert stuck_target("pause") == "paused"


def test_overrides_must_cover_every_blocking_reason() -> None:
    assert overrides_cover(["batch_too_large"], ["max_agents_per_batch"])
    assert not overrides_cover(["batch_too_large", "freeze_window"], ["max_agents_per_batch"])
    assert not overrides_cover(["risk_too_high"], ["max_agents_per_batch", "freeze_window"])
    assert not overrides_cover([], ["freeze_window"])
