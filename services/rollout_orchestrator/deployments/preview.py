"""What ``POST /v1/deployments`` would answer for a plan now, stored nowhere: the same
assessment creation runs (``creation.assess``), rendered as an answer (the gateway's
preflight reads it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.errors import CortexError
from rollout_orchestrator.deployments.creation import Assessment, Creation, approval_asked, assess
from rollout_orchestrator.deployments.schemas import DeploymentRequest


class PlannedBatch(BaseModel):
    index: int
    size: int
    agent_ids: list[str] = Field(description="Sorted, as the run's record lists them.")


class Conflict(BaseModel):
    agent_id: str
    deployment_id: str = Field(description="The active run that holds the agent.")


class Refusal(BaseModel):
    """The problem+json creation would answer instead of a run."""

    status: int
    code: str
    detail: str
    remediation: str
    extra: dict[str, Any] = Field(
        default_factory=dict, description="The problem's own members (missing, reasons, …)."
    )


class PreviewEvaluation(BaseModel):
    verdict: Literal["pass", "fail", "needs_approval"]
    risk_score: float
    reasons: list[dict[str, Any]]
    policy_version: str
    evaluated_at: datetime | None


class ApprovalAsked(BaseModel):
    roles: list[str]
    quorum: int
    expires_in_s: int
    rule_ids: list[str]


class DeploymentPreview(BaseModel):
    """What creating a run of the plan now would do."""

    status: Literal["running", "pending_approval", "refused"] = Field(
        description="The run's first status, or `refused` (then `refusal` says with what)."
    )
    refusal: Refusal | None
    plan_hash: str = Field(description="The plan's hash: the `input_hash` of its approval.")
    service: str
    environment: str
    agents_total: int
    batches: list[PlannedBatch]
    conflicts: list[Conflict]
    evaluation_request: dict[str, Any] | None = Field(
        description="What creation sends the policy engine (null: not judged)."
    )
    evaluation: PreviewEvaluation | None
    approval: ApprovalAsked | None = Field(description="The approval a waiting run requests.")
    overrides: list[str] = Field(description="The limits the plan asks to override.")


def _refusal(error: CortexError) -> Refusal:
    return Refusal(
        status=error.status,
        code=error.code,
        detail=error.detail,
        remediation=error.remediation,
        extra=error.extra,
    )


def _status(judged: Assessment) -> Literal["running", "pending_approval", "refused"]:
    if judged.refusal is not None:
        return "refused"
    return "pending_approval" if judged.waits else "running"


def render(judged: Assessment, plan: DeploymentRequest, ctx: Creation) -> DeploymentPreview:
    evaluation = judged.evaluation
    return DeploymentPreview(
        status=_status(judged),
        refusal=_refusal(judged.refusal) if judged.refusal is not None else None,
        plan_hash=judged.body_hash,
        service=plan.service,
        environment=plan.environment,
        agents_total=sum(len(b) for b in judged.planned),
        batches=[
            PlannedBatch(index=i, size=len(b), agent_ids=sorted(b))
            for i, b in enumerate(judged.planned)
        ],
        conflicts=[
            Conflict(agent_id=b.agent_id, deployment_id=b.deployment_id) for b in judged.busy
        ],
        evaluation_request=judged.request,
        evaluation=PreviewEvaluation.model_validate(evaluation.model_dump())
        if evaluation is not None
        else None,
        approval=ApprovalAsked.model_validate(
            approval_asked(evaluation, ctx.override_approval).model_dump()
        )
        if judged.waits and evaluation is not None
        else None,
        overrides=[o.limit for o in plan.overrides],
    )


async def preview(
    session: AsyncSession,
    ctx: Creation,
    agency: str,
    actor: str,
    plan: DeploymentRequest,
    now: datetime,
) -> DeploymentPreview:
    """Creation's assessment of ``plan``, judged by the policy even when targets are busy."""
    judged = await assess(session, ctx.policy, agency, actor, plan, now, judge_busy=True)
    return render(judged, plan, ctx)
