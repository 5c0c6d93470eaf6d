"""The one record of a run (``GET /v1/deployments/{id}``), built from its rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rollout_orchestrator.deployments import repository
from rollout_orchestrator.deployments.rows import Batch, Run
from rollout_orchestrator.deployments.schemas import (
    ApprovalOut,
    BatchOut,
    DecisionOut,
    DeploymentOut,
    OverrideOut,
    ProgressOut,
    RollbackOut,
    SnapshotOut,
    TransitionOut,
    VerdictOut,
)
from rollout_orchestrator.domain.run import allowed_commands


def _approval(run: Run) -> ApprovalOut | None:
    if run.approval_id is None or run.approval_requested_at is None:
        return None
    wait = None
    if run.approval_decided_at is not None:
        wait = (run.approval_decided_at - run.approval_requested_at).total_seconds()
    return ApprovalOut(
        id=run.approval_id,
        status=run.approval_status or "pending",
        approvers=run.approval_approvers or [],
        requested_at=run.approval_requested_at,
        decided_at=run.approval_decided_at,
        wait_s=wait,
    )


def _progress(run: Run, batches: list[Batch]) -> ProgressOut:
    applied = [b for b in batches if b.status != "pending"]
    done = [b for b in batches if b.status in ("passed", "failed", "reverted")]
    observing = next((b.index for b in batches if b.status == "observing"), None)
    return ProgressOut(
        agents_total=run.agents_total,
        agents_updated=sum(b.size for b in applied),
        batches_total=run.batches_total,
        batches_done=len(done),
        current_batch=observing,
    )


def _batch(batch: Batch, agent_ids: list[str] | None) -> BatchOut:
    return BatchOut(
        index=batch.index,
        size=batch.size,
        agent_ids=agent_ids,
        status=batch.status,
        verdict=None if batch.verdict is None else VerdictOut.model_validate(batch.verdict),
        started_at=batch.started_at,
        finished_at=batch.finished_at,
    )


async def _rollback(session: AsyncSession, run: Run) -> RollbackOut | None:
    if run.rollback_started_at is None or run.rollback_trigger is None:
        return None
    counts = await repository.revert_counts(session, run.id)
    return RollbackOut(
        trigger=run.rollback_trigger,
        actor=run.rollback_actor or "",
        reason=run.rollback_reason or "",
        rule_id=run.rollback_rule_id,
        detected_at=run.rollback_detected_at,
        started_at=run.rollback_started_at,
        finished_at=run.rollback_finished_at,
        agents_total=counts.total,
        agents_reverted=counts.reverted,
    )


async def summaries(session: AsyncSession, runs: list[Run]) -> list[DeploymentOut]:
    """The records without the batches' agents and the timeline."""
    batches = await repository.batches_of_runs(session, [r.id for r in runs])
    return [_record(r, batches[r.id], None, None, await _rollback(session, r)) for r in runs]


async def full(session: AsyncSession, run: Run) -> DeploymentOut:
    batches = await repository.batches_of(session, run.id)
    members = await repository.batch_agents(session, run.id)
    timeline = [
        TransitionOut(
            at=t.at,
            from_=t.from_status,
            to=t.to_status,
            event=t.event,
            actor_kind=t.actor_kind,
            actor=t.actor,
            reason_code=t.reason_code,
            reason=t.reason,
            batch_index=t.batch_index,
            driver=t.driver,
        )
        for t in await repository.transitions_of(session, run.id)
    ]
    return _record(run, batches, members, timeline, await _rollback(session, run))


def _record(
    run: Run,
    batches: list[Batch],
    members: dict[int, list[str]] | None,
    timeline: list[TransitionOut] | None,
    rollback: RollbackOut | None,
) -> DeploymentOut:
    return DeploymentOut(
        id=run.id,
        agency=run.agency,
        service=run.service,
        environment=run.environment,
        status=run.status,
        version=run.version,
        revision=run.revision,
        actor=run.actor,
        reason=run.reason,
        allowed_commands=list(allowed_commands(run.status)),
        created_at=run.created_at,
        updated_at=run.updated_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        plan=run.plan,
        decision=DecisionOut.model_validate(run.decision),
        approval=_approval(run),
        overrides=[OverrideOut.model_validate(o) for o in run.overrides],
        progress=_progress(run, batches),
        batches=[_batch(b, None if members is None else members.get(b.index, [])) for b in batches],
        timeline=timeline,
        rollback=rollback,
        snapshot=SnapshotOut(id=run.snapshot_id, agents=run.agents_total),
        status_url=f"/v1/deployments/{run.id}",
    )
