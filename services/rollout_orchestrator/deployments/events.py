"""Runs as contract messages (cortex.deploy.*, cortex.approval.requested): the one mapping
between the run's words and the protobuf enums. Events carry complete facts (the metrics
collector maps DeploymentFinished and RolledBack to deployment facts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    ApprovalRequested,
    BatchCompleted,
    BatchVerdict,
    DeploymentFinished,
    DeploymentStarted,
    DeploymentTransitioned,
    RollbackTrigger,
    RolledBack,
    RolloutStatus,
    SubjectKind,
    pack,
    subject_for,
)
from cortex_kit.messaging.outbox import PendingEvent
from rollout_orchestrator.deployments.rows import Batch, Run, Transition

SOURCE = "rollout-orchestrator"
FINISHED_STATUS: dict[str, RolloutStatus] = {
    "succeeded": RolloutStatus.ROLLOUT_STATUS_SUCCEEDED,
    "failed": RolloutStatus.ROLLOUT_STATUS_FAILED,
    "rolled_back": RolloutStatus.ROLLOUT_STATUS_ROLLED_BACK,
    "aborted": RolloutStatus.ROLLOUT_STATUS_ABORTED,
}
TRIGGERS: dict[str, RollbackTrigger] = {
    "manual": RollbackTrigger.ROLLBACK_TRIGGER_MANUAL,
    "health_gate": RollbackTrigger.ROLLBACK_TRIGGER_HEALTH_GATE,
    "policy_violation": RollbackTrigger.ROLLBACK_TRIGGER_POLICY_VIOLATION,
    "watchdog": RollbackTrigger.ROLLBACK_TRIGGER_WATCHDOG,
}


def timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(at.astimezone(UTC))
    return stamp


def _event(payload: Message, run: Run, at: datetime) -> PendingEvent:
    envelope = pack(payload, agency=run.agency, source=SOURCE, occurred_at=at)
    return PendingEvent(subject_for(payload, run.agency), envelope)


def _labels(run: Run) -> list[str]:
    return [f"change_kind:{run.change_kind}", f"revision:{run.revision}"]


def _first_size(batches: list[Batch]) -> int:
    return batches[0].size if batches else 0


def started(run: Run, batches: list[Batch], at: datetime) -> PendingEvent:
    payload = DeploymentStarted(
        deployment_id=run.id,
        agency=run.agency,
        service=run.service,
        environment=run.environment,
        actor=run.actor,
        started_at=timestamp(at),
        change_kind=run.change_kind,
        revision=run.revision,
        snapshot_id=run.snapshot_id,
        total_agents=run.agents_total,
        batch_count=run.batches_total,
        batch_size=_first_size(batches),
        commit_shas=run.commit_shas,
        labels=_labels(run),
        decision_id=str(run.decision.get("id", "")),
        approval_id=run.approval_id or "",
    )
    return _event(payload, run, at)


def batch_completed(
    run: Run, batch: Batch, agent_ids: list[str], healthy: int, failed: int, reason: str
) -> PendingEvent:
    assert batch.finished_at is not None
    payload = BatchCompleted(
        deployment_id=run.id,
        agency=run.agency,
        service=run.service,
        environment=run.environment,
        batch_index=batch.index,
        batch_count=run.batches_total,
        batch_size=batch.size,
        agent_ids=agent_ids,
        agents_healthy=healthy,
        agents_unhealthy=failed,
        verdict=(
            BatchVerdict.BATCH_VERDICT_HEALTHY
            if batch.status == "passed"
            else BatchVerdict.BATCH_VERDICT_UNHEALTHY
        ),
        reason="" if batch.status == "passed" else reason,
        started_at=timestamp(batch.started_at),
        finished_at=timestamp(batch.finished_at),
    )
    return _event(payload, run, batch.finished_at)


def finished(run: Run, batches: list[Batch], at: datetime, actor: str) -> PendingEvent:
    """A run that ended after it started (a run that never started deployed nothing)."""
    done = sum(1 for b in batches if b.status in ("passed", "failed", "reverted"))
    payload = DeploymentFinished(
        deployment_id=run.id,
        agency=run.agency,
        service=run.service,
        environment=run.environment,
        status=FINISHED_STATUS[run.status],
        started_at=timestamp(run.started_at),
        finished_at=timestamp(at),
        total_agents=run.agents_total,
        batch_count=run.batches_total,
        batches_completed=done,
        batch_size=_first_size(batches),
        commit_shas=run.commit_shas,
        labels=_labels(run),
        actor="" if run.status == "succeeded" else actor,
        reason="" if run.status == "succeeded" else (run.reason or ""),
        revision=run.revision,
        change_kind=run.change_kind,
        created_at=timestamp(run.created_at),
        decision_id=str(run.decision.get("id", "")),
    )
    return _event(payload, run, at)


def rolled_back(run: Run, agents_reverted: int, agents_total: int, at: datetime) -> PendingEvent:
    payload = RolledBack(
        deployment_id=run.id,
        agency=run.agency,
        service=run.service,
        environment=run.environment,
        trigger=TRIGGERS.get(run.rollback_trigger or "", RollbackTrigger.ROLLBACK_TRIGGER_MANUAL),
        actor=run.rollback_actor or "",
        reason=run.rollback_reason or "",
        snapshot_id=run.snapshot_id,
        agents_reverted=agents_reverted,
        # The metrics collector reads a rollback's start as the failure's detection and its
        # finish as the recovery: detection → every touched agent reverted.
        started_at=timestamp(run.rollback_detected_at or run.rollback_started_at),
        finished_at=timestamp(at),
        rule_id=run.rollback_rule_id or "",
        decision_id=str(run.decision.get("id", "")),
        detected_at=timestamp(run.rollback_detected_at),
        agents_total=agents_total,
        revision=run.revision,
        revert_started_at=timestamp(run.rollback_started_at),
    )
    return _event(payload, run, at)


def transitioned(run: Run, transition: Transition) -> PendingEvent:
    payload = DeploymentTransitioned(
        deployment_id=run.id,
        agency=run.agency,
        service=run.service,
        environment=run.environment,
        from_status=transition.from_status or "",
        to_status=transition.to_status,
        event=transition.event,
        actor_kind=transition.actor_kind,
        actor=transition.actor,
        reason_code=transition.reason_code,
        reason=transition.reason,
        batch_index=-1 if transition.batch_index is None else transition.batch_index,
        at=timestamp(transition.at),
        version=run.version,
    )
    return _event(payload, run, transition.at)


def approval_requested(
    run: Run,
    *,
    roles: list[str],
    quorum: int,
    expires_in: timedelta,
    rule_ids: list[str],
    reason: str,
    input_hash: str,
) -> PendingEvent:
    assert run.approval_id is not None
    assert run.approval_requested_at is not None
    at = run.approval_requested_at
    payload = ApprovalRequested(
        approval_id=run.approval_id,
        agency=run.agency,
        subject_kind=SubjectKind.SUBJECT_KIND_DEPLOYMENT,
        subject_id=run.id,
        requested_by=run.actor,
        required_roles=roles,
        quorum=quorum,
        expires_at=timestamp(at + expires_in),
        risk_score=float(run.decision.get("risk_score", 0.0)),
        summary=f"{run.service} {run.revision} to {run.agents_total} agents "
        f"in {run.environment} ({run.batches_total} batches)"[:1000],
        input_hash=input_hash,
        reason=reason[:1000],
        rule_ids=rule_ids,
        policy_version=str(run.decision.get("policy_version", "")),
        requested_at=timestamp(at),
    )
    return _event(payload, run, at)
