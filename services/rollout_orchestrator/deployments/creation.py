"""Creating a run (no FastAPI, no NATS): the plan parsed, its targets batched and checked,
judged by the policy engine, and stored with its snapshot, first transition and events in the
caller's transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.errors import CortexError
from rollout_orchestrator.deployments import events, repository
from rollout_orchestrator.deployments.engine import metrics
from rollout_orchestrator.deployments.engine.driving import Cause, Driver
from rollout_orchestrator.deployments.policy import ApprovalNeeded, Evaluation, PolicyClient
from rollout_orchestrator.deployments.rows import Busy, FleetAgent, Run
from rollout_orchestrator.deployments.schemas import DeploymentRequest
from rollout_orchestrator.deployments.service import new_id
from rollout_orchestrator.domain import batching
from rollout_orchestrator.domain import run as rules
from rollout_orchestrator.errors import (
    DeploymentBlocked,
    IdempotencyKeyReused,
    InvalidPlan,
    NoTargets,
    PolicyUnavailable,
    TargetsBusy,
    UnknownTargets,
)


@dataclass(frozen=True)
class OverrideApproval:
    """The approval an override asks for when the policy names none."""

    roles: tuple[str, ...]
    quorum: int
    expiry: timedelta


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


def _targets(
    fleet: list[FleetAgent], plan: DeploymentRequest
) -> tuple[list[list[str]], dict[str, str]]:
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


def _busy_refusal(busy: list[Busy]) -> TargetsBusy | None:
    if not busy:
        return None
    return TargetsBusy(
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


def decide(evaluation: Evaluation, plan: DeploymentRequest) -> bool:
    """Whether the run waits for an approval: the policy asks for one, or the plan asks to
    override a limit. A failed verdict blocks (``DeploymentBlocked``), unless overrides cover
    every blocking reason."""
    asked = [o.limit for o in plan.overrides]
    if evaluation.verdict == "fail" and not rules.overrides_cover(
        evaluation.blocking_codes(), asked
    ):
        raise _blocked(evaluation)
    return evaluation.verdict != "pass" or bool(plan.overrides)


def approval_asked(evaluation: Evaluation, fallback: OverrideApproval) -> ApprovalNeeded:
    """The approval a waiting run requests: the policy's, else the override default."""
    if evaluation.approval is not None:
        return evaluation.approval
    return ApprovalNeeded(
        roles=list(fallback.roles),
        quorum=fallback.quorum,
        expires_in_s=int(fallback.expiry.total_seconds()),
        rule_ids=[],
    )


@dataclass(frozen=True)
class Assessment:
    """What creating a run of the plan now does, before anything is stored: creation stores it
    (or raises ``refusal``), the preview (``POST /v1/deployments/preview``) answers it."""

    run_id: str
    normalised: dict[str, Any]
    body_hash: str
    planned: list[list[str]] = field(default_factory=list)
    revisions: dict[str, str] = field(default_factory=dict)
    busy: list[Busy] = field(default_factory=list)
    request: dict[str, Any] | None = None
    """The evaluation request sent to the policy engine (None: not judged)."""
    evaluation: Evaluation | None = None
    waits: bool = False
    refusal: CortexError | None = None
    """What creation answers instead of a run, the first in creation's order: targets
    (unknown, none), busy targets, the policy unavailable, the policy's block."""


async def assess(
    session: AsyncSession,
    policy: PolicyClient,
    agency: str,
    actor: str,
    plan: DeploymentRequest,
    now: datetime,
    *,
    judge_busy: bool = False,
) -> Assessment:
    """The plan's batches, the active runs holding its targets, and the policy's judgement of
    it, in creation's order. Creation stops at busy targets; the preview (``judge_busy``)
    still asks the policy, so its answer shows every problem at once — the refusal is the
    same."""
    normalised = plan.model_dump(mode="json")
    base = Assessment(new_id(), normalised, plan_hash(normalised))
    fleet = await repository.fleet(session, agency, plan.targets.selector, plan.targets.ids)
    try:
        planned, revisions = _targets(list(fleet), plan)
    except (UnknownTargets, NoTargets) as exc:
        return replace(base, refusal=exc)
    busy = await repository.busy(session, agency, [a for batch in planned for a in batch])
    judged = replace(base, planned=planned, revisions=revisions, busy=busy)
    refusal: CortexError | None = _busy_refusal(busy)
    if refusal is not None and not judge_busy:
        return replace(judged, refusal=refusal)
    request = evaluation_request(plan, base.run_id, planned, now)
    judged = replace(judged, request=request)
    try:
        evaluation = await policy.evaluate(agency, actor, request)
    except PolicyUnavailable as exc:
        return replace(judged, refusal=refusal or exc)
    try:
        waits = decide(evaluation, plan)
    except DeploymentBlocked as exc:
        return replace(judged, evaluation=evaluation, refusal=refusal or exc)
    return replace(judged, evaluation=evaluation, waits=waits, refusal=refusal)


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
    stored with its first transition and events in this transaction (under the agency's lock:
    the busy check and the Idempotency-Key hold against a concurrent creation)."""
    body_hash = plan_hash(plan.model_dump(mode="json"))
    await repository.lock_agency(session, agency)
    if idempotency_key is not None:
        replayed = await _replay(session, agency, idempotency_key, body_hash)
        if replayed is not None:
            return replayed
    judged = await assess(session, ctx.policy, agency, actor, plan, now)
    if judged.refusal is not None:
        raise judged.refusal
    evaluation = judged.evaluation
    assert evaluation is not None  # no refusal: the policy judged the plan
    values = _run_values(judged, evaluation, agency, actor, plan, now)
    run = await repository.insert_run(session, values, judged.planned, judged.revisions)
    run = await _first_transition(session, ctx, run, evaluation, plan, body_hash, now)
    if idempotency_key is not None:
        await repository.remember_key(session, agency, idempotency_key, body_hash, run.id, now)
    if plan.overrides:
        ctx.driver.after_commit(session, metrics.OVERRIDES.inc)
    return run


async def _replay(session: AsyncSession, agency: str, key: str, body_hash: str) -> Run | None:
    """The run an Idempotency-Key made for this plan before; another plan is refused."""
    known = await repository.idempotent_create(session, agency, key)
    if known is None:
        return None
    if known.body_hash != body_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for another plan.",
            remediation="Use a new key for a new plan; a changed plan needs a new run.",
        )
    return await repository.get_run(session, agency, known.run_id)


def _run_values(
    judged: Assessment,
    evaluation: Evaluation,
    agency: str,
    actor: str,
    plan: DeploymentRequest,
    now: datetime,
) -> dict[str, Any]:
    run_id, planned, waits = judged.run_id, judged.planned, judged.waits
    approval_id = new_id() if waits else None
    decision = {
        "id": new_id(),
        "verdict": evaluation.verdict,
        "risk_score": evaluation.risk_score,
        "reasons": evaluation.reasons,
        "policy_version": evaluation.policy_version,
        "evaluated_at": (evaluation.evaluated_at or now).isoformat(),
    }
    return {
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
        "plan": judged.normalised,
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
        asked = approval_asked(evaluation, ctx.override_approval)
        staged.append(
            events.approval_requested(
                run,
                roles=list(asked.roles),
                quorum=asked.quorum,
                expires_in=timedelta(seconds=asked.expires_in_s),
                rule_ids=list(asked.rule_ids),
                reason=reason,
                input_hash=body_hash,
            )
        )
    await driver.stage(session, staged)
    status = run.status
    driver.after_commit(session, lambda: metrics.transitioned("", status))
    return run
