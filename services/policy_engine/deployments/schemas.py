"""``POST /v1/deployments/evaluate`` input and output (documented in docs/policies.md)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # what the answer maps (the service imports the request model)
    from policy_engine.deployments.service import PlanEvaluation

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Share = Annotated[float, Field(ge=0, le=1)]
Value = int | float | str | None
Verdict = Literal["pass", "fail", "needs_approval"]


class DeploymentPlanRequest(BaseModel):
    """A rollout plan, as the domain's ``DeploymentPlanInput`` takes it (the agency is the
    caller's, never the body's)."""

    model_config = ConfigDict(extra="forbid")
    service: Name
    environment: Name = Field(description="`production`, `staging`, … (freeze-window globs).")
    target_agents: Count = Field(description="How many agents the rollout reaches in all.")
    batch_size: Count = Field(description="Agents per batch (the first batch's size).")
    config_changes: Count = Field(default=0, description="Config changes the deployment carries.")
    change_kind: Literal["config", "prompt", "model", "code"] = "config"
    team: Slug | None = Field(default=None, description="Evaluate the team's overlay too.")
    deployment_id: Name | None = None
    model: Name | None = Field(default=None, description="The model the agents move to, if any.")
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    recent_change_failure_rate: Share = Field(
        default=0.0, description="Share of the service's recent deployments that failed (0..1)."
    )
    risk_score: Share | None = Field(
        default=None,
        description="The caller's own estimate; the higher of it and the computed score is used.",
    )
    at: AwareDatetime | None = Field(
        default=None,
        description="When the deployment would run (freeze windows); default: now. "
        "Needs its UTC offset.",
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        max_length=64,
        description="Free-form facts, visible to CEL as `request` (beside the plan's fields).",
    )


class DeploymentReasonOut(BaseModel):
    """Why the verdict came out as it did, with the fix."""

    code: str
    severity: Literal["info", "warning", "low", "medium", "high", "critical"]
    effect: Literal["deny", "require_approval", "mask", "alert", "allow"]
    message: str
    remediation: str
    docs_url: str
    rule_id: str | None = None
    policy: str | None = None
    version: int | None = None
    layer: str | None = None
    actual: Value = None
    limit: Value = None
    counterfactual: str | None = None


class HealthGatesOut(BaseModel):
    max_error_rate: float
    max_latency_p99_ms: float
    min_healthy_fraction: float
    bake_time_s: int


class RollbackTriggersOut(BaseModel):
    error_rate_above: float
    on_policy_violation: bool


class DeploymentLimitsOut(BaseModel):
    """The effective policy's deployment settings (null: no limit set)."""

    max_agents_per_batch: int | None
    max_config_changes: int | None
    approval_above_risk: float | None
    health_gates: HealthGatesOut
    rollback_triggers: RollbackTriggersOut


class DeploymentApprovalOut(BaseModel):
    """Who must approve a `needs_approval` plan (merged over every reason that needs it)."""

    roles: list[str]
    quorum: int
    expires_in_s: int
    rule_ids: list[str]


class DeploymentEvaluation(BaseModel):
    verdict: Verdict = Field(description="`pass`, `fail`, or `needs_approval`.")
    risk_score: float
    risk_factors: dict[str, float] = Field(default_factory=dict)
    reasons: list[DeploymentReasonOut]
    limits: DeploymentLimitsOut | None = Field(
        description="The effective deployment settings; null when no policy decides."
    )
    approval: DeploymentApprovalOut | None = None
    policy_version: str
    evaluated_at: datetime = Field(description="When the plan was judged (UTC).")

    @classmethod
    def of(cls, evaluation: PlanEvaluation) -> DeploymentEvaluation:
        result = evaluation.result
        approval = result.approval
        return cls(
            verdict=evaluation.verdict,
            risk_score=result.risk_score,
            risk_factors=dict(result.risk_factors),
            reasons=[DeploymentReasonOut(**reason.to_dict()) for reason in result.reasons],
            limits=(
                DeploymentLimitsOut.model_validate(evaluation.limits.to_dict())
                if evaluation.limits
                else None
            ),
            approval=(
                DeploymentApprovalOut(
                    roles=list(approval.roles),
                    quorum=approval.quorum,
                    expires_in_s=approval.expires_in_s,
                    rule_ids=list(approval.rule_ids),
                )
                if approval
                else None
            ),
            policy_version=evaluation.policy_version,
            evaluated_at=evaluation.evaluated_at,
        )
