"""The typed rows of deployment runs, as the repository returns them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout_orchestrator.domain.run import BatchStatus, RunStatus


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    agency: str
    service: str
    environment: str
    team: str | None
    status: RunStatus
    version: int
    revision: str
    change_kind: str
    actor: str
    plan: dict[str, Any]
    decision: dict[str, Any]
    overrides: list[dict[str, Any]]
    commit_shas: list[str]
    snapshot_id: str
    agents_total: int
    batches_total: int
    approval_id: str | None
    approval_status: str | None
    approval_approvers: list[str] | None
    approval_requested_at: datetime | None
    approval_decided_at: datetime | None
    rollback_trigger: str | None
    rollback_actor: str | None
    rollback_reason: str | None
    rollback_rule_id: str | None
    rollback_detected_at: datetime | None
    rollback_started_at: datetime | None
    rollback_finished_at: datetime | None
    reason: str | None
    stuck_at: datetime | None
    progress_at: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Batch:
    run_id: str
    index: int
    size: int
    status: BatchStatus
    verdict: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Transition:
    id: int
    run_id: str
    at: datetime
    from_status: RunStatus | None
    to_status: RunStatus
    event: str
    actor_kind: str
    actor: str
    reason_code: str
    reason: str
    batch_index: int | None
    driver: str


@dataclass(frozen=True, slots=True)
class FleetAgent:
    id: str
    labels: dict[str, str]
    desired_revision: str


@dataclass(frozen=True, slots=True)
class Busy:
    agent_id: str
    deployment_id: str


@dataclass(frozen=True, slots=True)
class IdempotentCreate:
    body_hash: str
    run_id: str


@dataclass(frozen=True, slots=True)
class Reverts:
    total: int
    reverted: int
