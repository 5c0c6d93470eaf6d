"""Use case: accept a batch of delivery events into the gateway's outbox (one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import (
    ChangeRecorded,
    DeploymentRecorded,
    DeploymentSource,
    DeploymentStatus,
    IncidentRecorded,
    pack,
    subject_for,
)
from cortex_kit.errors import CortexError
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from cortex_kit.observability import inject_context
from gateway.events.schemas import (
    AcceptedEvent,
    ChangeEvent,
    DeploymentEvent,
    EventsAccepted,
    IncidentEvent,
)

SOURCE = "gateway"
_STATUS = {
    "succeeded": DeploymentStatus.DEPLOYMENT_STATUS_SUCCEEDED,
    "failed": DeploymentStatus.DEPLOYMENT_STATUS_FAILED,
    "in_progress": DeploymentStatus.DEPLOYMENT_STATUS_IN_PROGRESS,
    "rolled_back": DeploymentStatus.DEPLOYMENT_STATUS_ROLLED_BACK,
    "cancelled": DeploymentStatus.DEPLOYMENT_STATUS_CANCELLED,
}


def _ts(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def to_payload(
    event: ChangeEvent | DeploymentEvent | IncidentEvent,
    *,
    deployment_source: DeploymentSource = DeploymentSource.DEPLOYMENT_SOURCE_REST,
) -> Message:
    if isinstance(event, ChangeEvent):
        return ChangeRecorded(
            event_id=event.id,
            commit_sha=event.commit_sha.lower(),
            repo=event.repo,
            service=event.service,
            authored_at=_ts(event.authored_at),
            committed_at=_ts(event.committed_at),
            pr_id=event.pr_id,
            pr_opened_at=_ts(event.pr_opened_at),
            pr_merged_at=_ts(event.pr_merged_at),
            author=event.author,
        )
    if isinstance(event, DeploymentEvent):
        if event.finished_at and event.finished_at < event.started_at:
            raise CortexError(
                f"Deployment {event.id!r} finishes before it starts.",
                remediation="Send finished_at ≥ started_at (both with a timezone).",
                code="invalid_event",
                status=422,
            )
        return DeploymentRecorded(
            deployment_id=event.id,
            service=event.service,
            environment=event.environment,
            status=_STATUS[event.status],
            started_at=_ts(event.started_at),
            finished_at=_ts(event.finished_at),
            commit_shas=[c.lower() for c in event.commit_shas],
            labels=event.labels,
            fixes_incident=event.fixes_incident,
            rollback_of=event.rollback_of,
            source=deployment_source,
        )
    return IncidentRecorded(
        incident_id=event.id,
        service=event.service,
        environment=event.environment,
        opened_at=_ts(event.opened_at),
        resolved_at=_ts(event.resolved_at),
        severity=event.severity.lower(),
        caused_by_deployment=event.caused_by_deployment,
        caused_by_commit=event.caused_by_commit.lower(),
    )


async def accept_events(
    session: AsyncSession,
    outbox: Table,
    agency: str,
    events: Sequence[ChangeEvent | DeploymentEvent | IncidentEvent],
    *,
    source: str = SOURCE,
    deployment_source: DeploymentSource = DeploymentSource.DEPLOYMENT_SOURCE_REST,
) -> EventsAccepted:
    """Stage the events in the outbox (``source`` names the door, e.g. a webhook provider)."""
    trace_context = dict(inject_context({}))
    pending = []
    accepted = []
    for event in events:
        payload = to_payload(event, deployment_source=deployment_source)
        envelope = pack(payload, agency=agency, source=source, trace_context=trace_context)
        pending.append(PendingEvent(subject_for(payload, agency), envelope))
        accepted.append(AcceptedEvent(type=event.type, id=event.id, envelope_id=envelope.id))
    await add_to_outbox(session, outbox, pending)
    return EventsAccepted(agency=agency, accepted=len(accepted), events=accepted)
