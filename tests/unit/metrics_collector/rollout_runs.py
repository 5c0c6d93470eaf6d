"""The rollout orchestrator's own deploy.* events, built by its event builders from run rows
(``rollout_orchestrator.deployments.events``), for the collector's tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from cortex_contracts import Envelope, unpack
from cortex_kit.messaging.outbox import PendingEvent
from rollout_orchestrator.deployments import events
from rollout_orchestrator.deployments.rows import Batch, Run
from rollout_orchestrator.domain.run import RunStatus


def run(
    run_id: str,
    created: datetime,
    started: datetime,
    status: RunStatus = "succeeded",
    *,
    revision: str = "rev-2",
    service: str = "support-bot",
    environment: str = "production",
    commit_shas: tuple[str, ...] = (),
    **fields: Any,
) -> Run:
    """A run row as the orchestrator's repository returns it (4 agents, 2 batches)."""
    row = Run(
        id=run_id,
        agency="acme",
        service=service,
        environment=environment,
        team=None,
        status=status,
        version=5,
        revision=revision,
        change_kind="prompt",
        actor="key-ci",
        plan={},
        decision={"id": f"dec-{run_id}"},
        overrides=[],
        commit_shas=list(commit_shas),
        snapshot_id=f"snap-{run_id}",
        agents_total=4,
        batches_total=2,
        approval_id=None,
        approval_status=None,
        approval_approvers=None,
        approval_requested_at=None,
        approval_decided_at=None,
        rollback_trigger=None,
        rollback_actor=None,
        rollback_reason=None,
        rollback_rule_id=None,
        rollback_detected_at=None,
        rollback_started_at=None,
        rollback_finished_at=None,
        reason=None,
        stuck_at=None,
        progress_at=started,
        created_at=created,
        updated_at=started,
        started_at=started,
        finished_at=None,
    )
    return replace(row, **fields)


def batches(row: Run, status: str = "passed") -> list[Batch]:
    at = row.started_at
    return [
        Batch(row.id, index, 2, status, None, at, at)  # type: ignore[arg-type]
        for index in range(row.batches_total)
    ]


def finished(row: Run, at: datetime) -> PendingEvent:
    """What the orchestrator sends when ``row`` ends at ``at`` (DeploymentFinished)."""
    done = "reverted" if row.status == "rolled_back" else "passed"
    return events.finished(replace(row, finished_at=at), batches(row, done), at, "key-ci")


def rolled_back(row: Run, detected: datetime, reverted: datetime) -> tuple[Run, PendingEvent]:
    """A person rolls ``row`` back: detected at ``detected``, every agent back at ``reverted``
    (RolledBack); the run as it is then."""
    back = replace(
        row,
        status="rolled_back",
        rollback_trigger="manual",
        rollback_actor="key-sre",
        rollback_reason="bad answers",
        rollback_detected_at=detected,
        rollback_started_at=detected + timedelta(seconds=1),
        rollback_finished_at=reverted,
    )
    return back, events.rolled_back(back, 4, 4, reverted)


def envelope(event: PendingEvent) -> Envelope:
    assert isinstance(event.envelope, Envelope)
    return event.envelope


def payload(event: PendingEvent) -> Message:
    return unpack(envelope(event))
