"""Use cases of deployment runs (no FastAPI, no NATS): create, read, control, and the reactions
to approvals and policy violations. They only flush; the caller's session commits."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import uuid_utils
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from rollout_orchestrator.deployments import events, repository
from rollout_orchestrator.deployments.engine import metrics
from rollout_orchestrator.deployments.engine.driving import Cause, Driver
from rollout_orchestrator.deployments.policy import Evaluation, PolicyClient
from rollout_orchestrator.deployments.repository import Run
from rollout_orchestrator.deployments.schemas import DeploymentRequest
from rollout_orchestrator.domain import batching
from rollout_orchestrator.domain import run as rules
from rollout_orchestrator.domain.run import Command
from rollout_orchestrator.errors import (
    DeploymentBlocked,
    DeploymentNotFound,
    IdempotencyKeyReused,
    InvalidPlan,
    InvalidTransition,
    NoTargets,
    TargetsBusy,
    UnknownTargets,
)


@dataclass(frozen=True)
class OverrideApproval:
    """The approval an override asks for when the policy names none."""

    roles: tuple[str, ...]
    quorum: int
    expiry: timedelta


def new_id() -> str:
    return str(uuid_utils.uuid7())


def not_found(run_id: str) -> DeploymentNotFound:
    return DeploymentNotFound(
        f"No deployment {run_id!r} in this agency.",
        remediation="List the agency's deployments (GET /v1/deployments) for their ids.",
    )


def parse_plan(document: Any) -> DeploymentRequest:
    try:
        return DeploymentRequest.model_validate(document)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidPlan(
            f"The plan is not valid: {len(errors)} error(s).",
            remediation='Fix the fields named in `errors` (docs/rollouts.md "The plan").',
            extra={"errors": errors[:50]},
        ) from exc


def change_kind(plan: DeploymentRequest) -> str:
    if plan.change.model is not None:
        return "model"
    if plan.change.prompt_revision is not None:
        return "prompt"
    return "config"


def plan_hash(normalised: dict[str, Any]) -> str:
    canonical = json.dumps(normalised, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def _targets(
    session: AsyncSession, agency: str, plan: DeploymentRequest
) -> tuple[list[list[str]], dict[str, str]]:
    fleet = await repository.fleet(session, agency, plan.targets.selector, plan.targets.ids)
    try:
        planned = batching.plan_batches(plan, [batching.FleetAgent(a.id, a.labels) for a in fleet])
    except batching.UnknownTargets as exc:
        raise UnknownTargets(
            str(exc),
            remediation="Register the agents first (POST /v1/agents) or remove them from "
            "targets.ids.",
            extra={"missing": exc.missing[:1000]},
        ) from exc
    if not planned:
        raise NoTargets(
            "No registered agent of this agency matches the plan's targets.",
            remediation="Check targets.selector against the agents' labels (GET /v1/agents).",
        )
    return planned, {a.id: a.desired_revision for a in fleet}


async def _refuse_busy(session: AsyncSession, agency: str, planned: list[list[str]]) -> None:
    busy = await repository.busy(session, agency, [a for batch in planned for a in batch])
    if busy:
        raise TargetsBusy(
            f"{len(busy)} target(s) are in another active deployment of this agency.",
            remediation="Wait for that deployment to end, abort it, or leave these agents out.",
            extra={
                "conflicts": [
                    {"agent_id": b.agent_id, "deployment_id": b.deployment_id} for b in busy[:100]
                ]
            },
        )


def evaluation_request(
    plan: DeploymentRequest, run_id: str, planned: list[list[str]], now: datetime
) -> dict[str, Any]:
    return {
        "service": plan.service,
        "environment": plan.environment,
        "target_agents": sum(len(b) for b in planned),
        "batch_size": max(len(b) for b in planned),
        "config_changes": len(plan.change.config_patch or {}),
        "change_kind": change_kind(plan),
        "team": plan.team,
        "deployment_id": run_id,
        "model": plan.change.model,
        "at": now.isoformat(),
    }


def _blocked(evaluation: Evaluation) -> DeploymentBlocked:
    keys = ("code", "message", "remediation", "rule_id", "actual", "limit")
    reasons = [{k: r.get(k) for k in keys} for r in evaluation.reasons if r.get("effect") == "deny"]
    return DeploymentBlocked(
        f"The policy blocks this deployment: {', '.join(str(r['code']) for r in reasons)}.",
        remediation="Change the plan as each reason's remediation says, or ask to override a "
        "limit (overrides, with an approval).",
        extra={"reasons": reasons},
    )


@dataclass(frozen=True)
class Creation:
    """What ``create`` needs beyond the request."""

    driver: Driver
    policy: PolicyClient
    override_approval: OverrideApproval


async def create(
    session: AsyncSession,
    ctx: Creation,
    agency: str,
    actor: str,
    plan: DeploymentRequest,
    idempotency_key: str | None,
    now: datetime,
) -> Run:
    """A new run: its batches and snapshot from the fleet now, judged by the policy engine,
    stored with its first transition and events in this transaction."""
    normalised = plan.model_dump(mode="json")
    body_hash = plan_hash(normalised)
    await repository.lock_agency(session, agency)
    if idempotency_key is not None:
        known = await repository.idempotent_create(session, agency, idempotency_key)
        if known is not None:
            if known.body_hash != body_hash:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used for another plan.",
                    remediation="Use a new key for a new plan; a changed plan needs a new run.",
                )
            found = await repository.get_run(session, agency, known.run_id)
            assert found is not None
            return found
    planned, revisions = await _targets(session, agency, plan)
    await _refuse_busy(session, agency, planned)
    run_id = new_id()
    evaluation = await ctx.policy.evaluate(
        agency, actor, evaluation_request(plan, run_id, planned, now)
    )
    asked = [o.limit for o in plan.overrides]
    if evaluation.verdict == "fail" and not rules.overrides_cover(
        evaluation.blocking_codes(), asked
    ):
        raise _blocked(evaluation)
    waits = evaluation.verdict != "pass" or bool(plan.overrides)
    decision = {
        "id": new_id(),
        "verdict": evaluation.verdict,
        "risk_score": evaluation.risk_score,
        "reasons": evaluation.reasons,
        "policy_version": evaluation.policy_version,
        "evaluated_at": (evaluation.evaluated_at or now).isoformat(),
    }
    approval_id = new_id() if waits else None
    values: dict[str, Any] = {
        "id": run_id,
        "agency": agency,
        "service": plan.service,
        "environment": plan.environment,
        "team": plan.team,
        "status": "pending_approval" if waits else "running",
        "version": 0,
        "revision": plan.change.revision,
        "change_kind": change_kind(plan),
        "actor": actor,
        "plan": normalised,
        "decision": decision,
        "overrides": [
            {"limit": o.limit, "reason": o.reason, "approval_id": approval_id}
            for o in plan.overrides
        ],
        "commit_shas": list(plan.commit_shas),
        "snapshot_id": new_id(),
        "agents_total": sum(len(b) for b in planned),
        "batches_total": len(planned),
        "approval_id": approval_id,
        "approval_status": "pending" if waits else None,
        "approval_requested_at": now if waits else None,
        "progress_at": now,
        "created_at": now,
        "updated_at": now,
    }
    run = await repository.insert_run(session, values, planned, revisions)
    run = await _first_transition(session, ctx, run, evaluation, plan, body_hash, now)
    if idempotency_key is not None:
        await repository.remember_key(session, agency, idempotency_key, body_hash, run.id, now)
    if plan.overrides:
        ctx.driver.after_commit(session, metrics.OVERRIDES.inc)
    return run


async def _first_transition(
    session: AsyncSession,
    ctx: Creation,
    run: Run,
    evaluation: Evaluation,
    plan: DeploymentRequest,
    body_hash: str,
    now: datetime,
) -> Run:
    """The run's first timeline row (from nothing) and its events: DeploymentStarted, or the
    ``approval.requested`` it waits for (an override is named in the request's reason)."""
    driver = ctx.driver
    verdict = f"policy {evaluation.verdict} (risk {evaluation.risk_score:.2f})"
    overrides = "; ".join(f"override {o.limit}: {o.reason}" for o in plan.overrides)
    reason = "; ".join(x for x in (verdict, overrides) if x)
    running = run.status == "running"
    if running:
        cause = Cause("person", run.actor, "created", f"submitted; {verdict}")
    else:
        cause = Cause("policy", "policy", "approval_required", reason)
    run = await repository.update_run(
        session, run, {"reason": cause.reason, "started_at": now if running else None}
    )
    row = await repository.insert_transition(
        session,
        {
            "run_id": run.id,
            "at": now,
            "from_status": None,
            "to_status": run.status,
            "event": "started" if running else "approval_requested",
            "actor_kind": cause.actor_kind,
            "actor": cause.actor,
            "reason_code": cause.reason_code,
            "reason": cause.reason,
            "batch_index": None,
            "driver": driver.replica,
        },
    )
    staged = [events.transitioned(run, row)]
    if running:
        staged.append(events.started(run, await repository.batches_of(session, run.id), now))
    else:
        needed = evaluation.approval
        fallback = ctx.override_approval
        staged.append(
            events.approval_requested(
                run,
                roles=list(needed.roles) if needed else list(fallback.roles),
                quorum=needed.quorum if needed else fallback.quorum,
                expires_in=timedelta(seconds=needed.expires_in_s) if needed else fallback.expiry,
                rule_ids=list(needed.rule_ids) if needed else [],
                reason=reason,
                input_hash=body_hash,
            )
        )
    await driver.stage(session, staged)
    status = run.status
    driver.after_commit(session, lambda: metrics.transitioned("", status))
    return run


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
