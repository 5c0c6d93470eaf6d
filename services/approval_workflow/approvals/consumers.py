"""``approval.requested`` from the bus (the policy engine, the rollout orchestrator): each new
event becomes a request, inbox-deduped by the kit and by the approval id (its natural key)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.approvals import events, service
from approval_workflow.approvals.repository import Details
from approval_workflow.approvals.service import NewApproval
from approval_workflow.approvals.staging import Staging
from approval_workflow.domain.model import Separation, Subject
from approval_workflow.errors import ApprovalIdTaken, InvalidApproval
from cortex_contracts import (
    ApprovalRequested,
    MalformedEnvelope,
    UnexpectedEventType,
    UnknownEventType,
    decode,
    subject_filter,
    unpack,
)
from cortex_kit.logs import get_logger
from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.messaging.handlers import Message, Undecodable
from cortex_kit.settings import ProcessSettings
from cortex_kit.text import identifier_problem, storable_problem

log = get_logger("approval_workflow.consumers")
Clock = Callable[[], datetime]
MAX_ROLES = 20
MAX_QUORUM = 20


@dataclass(frozen=True, slots=True)
class Requested:
    """An ``approval.requested`` event, checked: the request it asks for, or None when it is
    this service's own announcement of a request made by API (already stored)."""

    new: NewApproval | None


def _when(stamp: Timestamp, fallback: datetime) -> datetime:
    """The time ``stamp`` says, or ``fallback`` when it is unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return fallback
    return stamp.ToDatetime(tzinfo=UTC)


def _problem(payload: ApprovalRequested) -> str | None:
    for name in ("approval_id", "subject_id", "requested_by", "input_hash"):
        value = getattr(payload, name)
        if not value:
            return f"{name} is empty"
        problem = identifier_problem(value)
        if problem is not None:
            return f"{name} {problem}"
    if payload.subject_kind not in events.SUBJECT_KIND_OF:
        return f"unknown subject_kind {payload.subject_kind}"
    if not 1 <= payload.quorum <= MAX_QUORUM:
        return f"quorum {payload.quorum} is not within 1..{MAX_QUORUM}"
    if len(payload.required_roles) > MAX_ROLES:
        return f"more than {MAX_ROLES} required roles"
    if payload.escalate_after_s < 0:
        return "escalate_after_s is negative"
    texts = (payload.summary, payload.reason, payload.policy_version, payload.escalate_to)
    for text in (*texts, *payload.required_roles, *payload.rule_ids, payload.requester_team):
        problem = storable_problem(text)
        if problem is not None:
            return problem
    return None


def requested(data: bytes, *, default_expiry: timedelta) -> Requested:
    try:
        envelope = decode(data)
        payload = unpack(envelope, ApprovalRequested)
    except (MalformedEnvelope, UnknownEventType, UnexpectedEventType) as exc:
        raise Undecodable(str(exc)) from exc
    if envelope.source == events.SOURCE:
        return Requested(None)
    problem = _problem(payload)
    if problem is not None:
        raise Undecodable(f"approval.requested {payload.approval_id[:100]!r}: {problem}")
    try:
        occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        requested_at = _when(payload.requested_at, occurred)
        expires_at = _when(payload.expires_at, requested_at + default_expiry)
    except (ValueError, OverflowError) as exc:
        raise Undecodable(f"approval.requested {payload.approval_id!r}: {exc}") from exc
    separation: Separation = events.SEPARATION_OF.get(payload.separation, "requester")
    escalate = payload.escalate_after_s
    new = NewApproval(
        id=payload.approval_id,
        agency=envelope.agency,  # the envelope's, which the subject was routed by
        subject=Subject(
            events.SUBJECT_KIND_OF[payload.subject_kind], payload.subject_id, payload.input_hash
        ),
        requested_by=payload.requested_by,
        requester_team=payload.requester_team or None,
        required_roles=tuple(dict.fromkeys(payload.required_roles)),
        quorum=payload.quorum,
        separation=separation,
        requested_at=requested_at,
        expires_at=expires_at,
        escalate_after=timedelta(seconds=escalate) if escalate else None,
        escalate_to=payload.escalate_to or None,
        details=Details(
            payload.summary,
            payload.reason,
            tuple(payload.rule_ids),
            payload.policy_version,
            payload.risk_score,
        ),
        origin="event",
    )
    return Requested(new)


def requested_consumer(
    settings: ProcessSettings,
    staging: Staging,
    *,
    separation: Separation,
    default_expiry: timedelta,
    clock: Clock,
) -> ConsumerSpec[Requested]:
    """Each event in its own savepoint: one that cannot be a request (its rules cannot work,
    its id is another request's) is dead-lettered alone and the others are stored."""

    async def handle(session: AsyncSession, messages: Sequence[Message[Requested]]) -> None:
        for message in messages:
            new = message.payload.new
            if new is None:
                continue
            try:
                async with session.begin_nested():
                    await service.create(
                        session, staging, new, service_separation=separation, now=clock()
                    )
            except (InvalidApproval, ApprovalIdTaken) as exc:
                log.warning("approval.request_refused", approval_id=new.id, code=exc.code)
                message.reject_item(new.id, f"{exc.code}: {exc.detail}")

    return ConsumerSpec(
        name="approval-workflow-requested",
        stream="CORTEX_APPROVAL",
        filter_subjects=[subject_filter("approval", "requested")],
        decode=lambda data: requested(data, default_expiry=default_expiry),
        handler=handle,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
        batch_size=settings.consumer_batch_size,
    )
