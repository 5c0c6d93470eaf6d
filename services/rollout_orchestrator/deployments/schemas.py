"""The deployments API's pydantic I/O (the contract: docs/rollouts.md "Deployments")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cortex_kit.text import StorableText
from rollout_orchestrator.domain.plan import DeploymentPlan
from rollout_orchestrator.domain.run import (
    ActorKind,
    BatchStatus,
    OnStuck,
    OverrideLimit,
    RollbackTrigger,
    RunStatus,
)

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Reason = Annotated[StorableText, Field(min_length=1, max_length=1000)]
CommitSha = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{7,64}$")]


class Watchdog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_no_progress_s: int = Field(default=3600, ge=1, le=30 * 86_400)
    on_stuck: OnStuck = "pause"


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    limit: OverrideLimit
    reason: Reason


class DeploymentRequest(DeploymentPlan):
    """A plan (``DeploymentPlan``) with what the policy and DORA need."""

    service: Name
    environment: Name
    team: Slug | None = None
    watchdog: Watchdog = Watchdog()
    overrides: list[Override] = Field(default_factory=list, max_length=3)
    commit_shas: list[CommitSha] = Field(default_factory=list, max_length=100)


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class EvidenceOut(BaseModel):
    healthy: int
    failed: int
    sampled: int
    batch_size: int
    threshold: float
    min_sample: int
    consecutive_failures: int
    window_start: datetime
    window_end: datetime


class VerdictOut(BaseModel):
    outcome: Literal["pass", "fail", "inconclusive", "error"]
    reason: str
    evidence: EvidenceOut | None = None


class BatchOut(BaseModel):
    index: int
    size: int
    agent_ids: list[str] | None = Field(default=None, description="Omitted in summaries.")
    status: BatchStatus
    verdict: VerdictOut | None
    started_at: datetime | None
    finished_at: datetime | None


class TransitionOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    at: datetime
    from_: RunStatus | None = Field(alias="from", serialization_alias="from")
    to: RunStatus
    event: str
    actor_kind: ActorKind
    actor: str
    reason_code: str
    reason: str
    batch_index: int | None
    driver: str = Field(description="The orchestrator replica whose transaction made it.")


class DecisionOut(BaseModel):
    id: str
    verdict: Literal["pass", "fail", "needs_approval"]
    risk_score: float
    reasons: list[dict[str, Any]]
    policy_version: str
    evaluated_at: datetime | None


class ApprovalOut(BaseModel):
    id: str
    status: Literal["pending", "granted", "rejected", "expired", "superseded"]
    approvers: list[str]
    requested_at: datetime
    decided_at: datetime | None
    wait_s: float | None


class OverrideOut(BaseModel):
    limit: OverrideLimit
    reason: str
    approval_id: str | None


class ProgressOut(BaseModel):
    agents_total: int
    agents_updated: int
    batches_total: int
    batches_done: int
    current_batch: int | None


class RollbackOut(BaseModel):
    trigger: RollbackTrigger
    actor: str
    reason: str
    rule_id: str | None
    detected_at: datetime | None
    started_at: datetime
    finished_at: datetime | None
    agents_total: int
    agents_reverted: int


class SnapshotOut(BaseModel):
    id: str
    agents: int


class DeploymentOut(BaseModel):
    """The one record of a run (``batches[].agent_ids`` and ``timeline`` are left out of
    summaries)."""

    id: str
    agency: str
    service: str
    environment: str
    status: RunStatus
    version: int
    revision: str
    actor: str
    reason: str | None
    allowed_commands: list[str]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    plan: dict[str, Any]
    decision: DecisionOut
    approval: ApprovalOut | None
    overrides: list[OverrideOut]
    progress: ProgressOut
    batches: list[BatchOut]
    timeline: list[TransitionOut] | None
    rollback: RollbackOut | None
    snapshot: SnapshotOut
    status_url: str


class DeploymentList(BaseModel):
    items: list[DeploymentOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null: last.")
