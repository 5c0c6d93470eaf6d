"""``POST /v1/preflight``'s answer (docs/api.md "Preflight")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

Severity = Literal["info", "warning", "low", "medium", "high", "critical"]
Source = Literal[
    "gateway", "rollout_orchestrator", "policy_engine", "approval_workflow", "metrics_collector"
]
Verdict = Literal["pass", "fail", "needs_approval"]
Value = int | float | str | None


class Finding(BaseModel):
    """One thing preflight found, with how to fix it and where it comes from."""

    code: str
    severity: Severity
    message: str
    remediation: str
    docs_url: str
    source: Source
    rule_id: str | None = None
    policy: str | None = None
    version: int | None = None
    layer: str | None = None
    actual: Value = None
    limit: Value = None


class PlannedBatch(BaseModel):
    index: int
    size: int
    agent_ids: list[str]


class PlanOut(BaseModel):
    """The batches the deployment would run, as the orchestrator would store them."""

    service: str
    environment: str
    plan_hash: str = Field(description="The plan's hash (the `input_hash` of its approval).")
    agents_total: int
    batches: list[PlannedBatch]


class ConflictOut(BaseModel):
    agent_id: str
    deployment_id: str


class ApprovalNeededOut(BaseModel):
    """Who must approve before the run starts (when the verdict is `needs_approval`)."""

    roles: list[str]
    quorum: int
    expires_in_s: int
    rule_ids: list[str]


class EnforcementOut(BaseModel):
    """What ``POST /v1/deployments`` would answer now: 202 with ``status``, or ``http_status``
    with ``code``. ``unknown`` when the orchestrator did not answer."""

    status: Literal["running", "pending_approval", "refused", "unknown"]
    http_status: int | None
    code: str | None


class SourceOut(BaseModel):
    status: Literal["ok", "unavailable", "skipped"]
    elapsed_ms: float


class PreflightOut(BaseModel):
    verdict: Verdict = Field(
        description="`pass` (would run), `needs_approval` (would wait for an approval, or a "
        "check could not be made), `fail` (would be refused, or could not be predicted)."
    )
    findings: list[Finding]
    plan: PlanOut | None = Field(description="Null when no batch plan could be made.")
    risk_score: float | None = Field(description="The policy engine's (null: not judged).")
    conflicts: list[ConflictOut]
    approval: ApprovalNeededOut | None
    enforcement: EnforcementOut
    change_failure_rate: float | None = Field(
        description="The service's recent change failure rate (0..1; last 30 days)."
    )
    policy_version: str | None
    sources: dict[str, SourceOut] = Field(description="Each service asked: answered in time?")
    deadline_s: Annotated[float, Field(gt=0)]
