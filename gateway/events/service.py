"""Use cases of delivery events: check a batch (its size, its incidents' causes) and accept it
into the gateway's outbox (one transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import (
    ChangeRecorded,
    DeliveryBatch,
    DeliveryEvent,
    DeploymentRecorded,
    DeploymentSource,
    DeploymentStatus,
    IncidentRecorded,
    pack,
    subject_for,
)
from cortex_contracts.public import proto_name
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from cortex_kit.observability import inject_context
from gateway.errors import BatchTooLarge, InvalidEvent
from gateway.events import causes
from gateway.events.schemas import (
    AcceptedEvent,
    ChangeEvent,
    DeploymentEvent,
    EventsAccepted,
    IncidentEvent,
)
from gateway.upstream import Upstreams

SOURCE = "gateway"
# Several events travel in one DeliveryBatch envelope (one outbox row, one NATS message, one
# inbox row): per-event envelopes cost more than the events themselves at 10,000 events/s.
# Bounded so that a message stays far below NATS's 1 MiB default payload limit.
BATCH_MAX_EVENTS = 500
BATCH_MAX_BYTES = 256 * 1024
# Namespace of the envelope ids derived from a provider's delivery id.
_DELIVERIES = uuid.UUID("6f1f4c52-2a43-4d1c-9a55-0d3c7f0b8e21")


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
            raise InvalidEvent(
                f"Deployment {event.id!r} finishes before it starts.",
                remediation="Send finished_at ≥ started_at (both with a timezone).",
            )
        if event.ships_no_commits and event.commit_shas:
            raise InvalidEvent(
                f"Deployment {event.id!r} lists commit_shas and says it ships no commits.",
                remediation="Send either commit_shas or ships_no_commits=true, not both.",
            )
        return DeploymentRecorded(
            deployment_id=event.id,
            service=event.service,
            environment=event.environment,
            status=proto_name(DeploymentStatus.DESCRIPTOR, event.status),
            started_at=_ts(event.started_at),
            finished_at=_ts(event.finished_at),
            commit_shas=[c.lower() for c in event.commit_shas],
            labels=event.labels,
            fixes_incident=event.fixes_incident,
            rollback_of=event.rollback_of,
            head_commit=event.head_commit.lower(),
            ships_no_commits=event.ships_no_commits,
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
        reopened_at=_ts(event.reopened_at),
        reported_at=_ts(event.reported_at),
    )


def _batches(payloads: Sequence[Message]) -> list[list[Message]]:
    """Consecutive runs of payloads under both batch bounds (a lone huge event stays alone)."""
    batches: list[list[Message]] = []
    size = 0
    for payload in payloads:
        weight = payload.ByteSize() + 8
        if not batches or len(batches[-1]) >= BATCH_MAX_EVENTS or size + weight > BATCH_MAX_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(payload)
        size += weight
    return batches


def _item(payload: Message) -> DeliveryEvent:
    if isinstance(payload, ChangeRecorded):
        return DeliveryEvent(change=payload)
    if isinstance(payload, DeploymentRecorded):
        return DeliveryEvent(deployment=payload)
    assert isinstance(payload, IncidentRecorded)
    return DeliveryEvent(incident=payload)


async def accept_events(
    session: AsyncSession,
    outbox: Table,
    agency: str,
    events: Sequence[ChangeEvent | DeploymentEvent | IncidentEvent],
    *,
    source: str = SOURCE,
    deployment_source: DeploymentSource = DeploymentSource.DEPLOYMENT_SOURCE_REST,
    delivery_key: str | None = None,
) -> EventsAccepted:
    """Stage the events in the outbox (``source`` names the door, e.g. a webhook provider).

    One event travels in its own envelope; several in DeliveryBatch envelopes, where the n-th
    event's ``envelope_id`` is ``<envelope id>/<n>`` (the id its version is stored under).
    With a ``delivery_key`` (a provider's delivery id), the envelope ids derive from it, so a
    redelivery carries the same ids and the collector writes no new version.
    """
    trace_context = dict(inject_context({}))
    payloads = [to_payload(event, deployment_source=deployment_source) for event in events]
    pending = []
    ids: list[str] = []

    def envelope_id(k: int) -> uuid.UUID | None:
        return None if delivery_key is None else uuid.uuid5(_DELIVERIES, f"{delivery_key}/{k}")

    if len(payloads) == 1:
        envelope = pack(
            payloads[0],
            agency=agency,
            source=source,
            id=envelope_id(0),
            trace_context=trace_context,
        )
        pending.append(PendingEvent(subject_for(payloads[0], agency), envelope))
        ids.append(envelope.id)
    else:
        for k, group in enumerate(_batches(payloads)):
            batch = DeliveryBatch(events=[_item(p) for p in group])
            envelope = pack(
                batch, agency=agency, source=source, id=envelope_id(k), trace_context=trace_context
            )
            pending.append(PendingEvent(subject_for(batch, agency), envelope))
            ids += [f"{envelope.id}/{n}" for n in range(len(group))]
    await add_to_outbox(session, outbox, pending)
    accepted = [
        AcceptedEvent(type=event.type, id=event.id, envelope_id=envelope_id)
        for event, envelope_id in zip(events, ids, strict=True)
    ]
    return EventsAccepted(agency=agency, accepted=len(accepted), events=accepted)


async def send_events(
    session: AsyncSession,
    outbox: Table,
    upstreams: Upstreams,
    *,
    agency: str,
    principal: str,
    events: Sequence[ChangeEvent | DeploymentEvent | IncidentEvent],
    max_events: int,
    request_id: str | None = None,
) -> EventsAccepted:
    """``POST /v1/events``: at most ``max_events`` events; an incident whose named deployment
    finished after it opened is refused (``causes``); then every event is staged."""
    if len(events) > max_events:
        raise BatchTooLarge(
            f"{len(events)} events in one request; the limit is {max_events}.",
            remediation=f"Split the batch into requests of at most {max_events} events.",
        )
    await causes.check_incident_causes(upstreams, agency, principal, events, request_id)
    return await accept_events(session, outbox, agency, events)
