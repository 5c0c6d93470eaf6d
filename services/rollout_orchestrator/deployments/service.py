"""Use cases of deployment runs (no FastAPI, no NATS): read, control, and the reactions to
approvals and policy violations (creating one: ``creation``). They only flush; the caller's
session commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import uuid_utils
from sqlalchemy.ext.asyncio import AsyncSession

from rollout_orchestrator.deployments import repository
from rollout_orchestrator.deployments.engine.driving import Cause, Driver
from rollout_orchestrator.deployments.rows import Run
from rollout_orchestrator.domain import run as rules
from rollout_orchestrator.domain.run import Command
from rollout_orchestrator.errors import (
    DeploymentNotFound,
    InvalidTransition,
)


def new_id() -> str:
    return str(uuid_utils.uuid7())


def not_found(run_id: str) -> DeploymentNotFound:
    return DeploymentNotFound(
        f"No deployment {run_id!r} in this agency.",
        remediation="List the agency's deployments (GET /v1/deployments) for their ids.",
    )


async def get(session: AsyncSession, agency: str, run_id: str) -> Run:
    run = await repository.get_run(session, agency, run_id)
    if run is None:
        raise not_found(run_id)
    return run


# --- commands -------------------------------------------------------------------------------


async def command(
    session: AsyncSession,
    driver: Driver,
    agency: str,
    run_id: str,
    name: Command,
    actor: str,
    reason: str,
    now: datetime,
) -> Run:
    """pause, resume, abort or rollback, by a person; the same command twice changes nothing
    the second time."""
    run = await repository.lock_run(session, agency, run_id, skip_locked=False)
    if run is None:
        raise not_found(run_id)
    outcome = rules.apply_command(run.status, name)
    if isinstance(outcome, rules.AlreadyThere):
        return run
    if isinstance(outcome, rules.NotAllowed):
        raise InvalidTransition(
            f"A {run.status} deployment cannot be {name}d.",
            remediation="Send one of the commands in `allowed`"
            + (" (none: the run has ended)." if not outcome.allowed else "."),
            extra={"status": run.status, "allowed": list(outcome.allowed)},
        )
    cause = Cause("person", actor, "manual", reason)
    if name == "rollback":
        return await driver.start_rollback(session, run, "manual", cause, now)
    if name == "resume":
        await _reopen_failed_batch(session, run, now)
    event = {"pause": "paused", "resume": "resumed", "abort": "aborted"}[name]
    return await driver.transition(session, run, outcome.to, event, cause, now)


async def _reopen_failed_batch(session: AsyncSession, run: Run, now: datetime) -> None:
    """A run paused by a failed gate resumes by observing that batch again, from now."""
    for batch in await repository.batches_of(session, run.id):
        if batch.status == "failed":
            await repository.update_batch(
                session,
                run.id,
                batch.index,
                {"status": "observing", "started_at": now, "finished_at": None, "verdict": None},
            )


# --- reactions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    agency: str
    approval_id: str
    deployment_id: str
    outcome: str  # granted | rejected | expired | superseded
    decided_by: list[str]
    decided_at: datetime
    reason: str


async def approval_decided(
    session: AsyncSession, driver: Driver, decided: ApprovalOutcome, now: datetime
) -> Run | None:
    """A pending run proceeds on a grant and ends rejected otherwise; any other run (or an
    approval it does not wait for) is left alone."""
    run = await repository.lock_run(
        session, decided.agency, decided.deployment_id, skip_locked=False
    )
    if run is None or run.status != "pending_approval" or run.approval_id != decided.approval_id:
        return None
    values = {
        "approval_status": decided.outcome,
        "approval_approvers": decided.decided_by,
        "approval_decided_at": decided.decided_at,
    }
    who = ",".join(decided.decided_by)[:200] or decided.approval_id
    if decided.outcome == "granted":
        cause = Cause(
            "approval", who, "approval_granted", f"approval {decided.approval_id} granted"
        )
        return await driver.transition(
            session, run, "running", "started", cause, now, values=values
        )
    why = decided.reason or f"approval {decided.outcome}"
    cause = Cause("approval", who, f"approval_{decided.outcome}", why)
    return await driver.transition(session, run, "rejected", "rejected", cause, now, values=values)


@dataclass(frozen=True, slots=True)
class Violation:
    agency: str
    agent_id: str
    rule_id: str
    decision_id: str
    deployment_id: str | None
    message: str
    at: datetime


async def policy_violated(
    session: AsyncSession, driver: Driver, violation: Violation, now: datetime
) -> list[Run]:
    """Every running or paused run that holds the agent (or is named) rolls back."""
    ids = await repository.runs_holding(
        session, violation.agency, violation.agent_id, violation.deployment_id
    )
    moved: list[Run] = []
    for run_id in sorted(ids):
        run = await repository.lock_run(session, violation.agency, run_id, skip_locked=False)
        if run is None or run.status not in ("running", "paused"):
            continue
        reason = f"policy violation by agent {violation.agent_id}: rule {violation.rule_id}"
        if violation.message:
            reason += f" — {violation.message}"
        cause = Cause("policy", violation.rule_id or "policy", "policy_violation", reason[:1000])
        moved.append(
            await driver.start_rollback(
                session,
                run,
                "policy_violation",
                cause,
                now,
                detected_at=min(violation.at, now),
                rule_id=violation.rule_id or None,
            )
        )
    return moved
