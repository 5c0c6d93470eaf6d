"""What the orchestrator hears on the bus (inbox-deduped by the kit): ``approval.decided`` for
its deployments, and ``policy.violation`` of an agent in an active run (automatic rollback)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import (
    ApprovalDecided,
    ApprovalOutcome,
    MalformedEnvelope,
    PolicyViolation,
    SubjectKind,
    UnexpectedEventType,
    UnknownEventType,
    decode,
    subject_filter,
    unpack,
)
from cortex_kit.messaging.consumer import ConsumerSpec
from cortex_kit.messaging.handlers import Message, Undecodable
from cortex_kit.settings import ProcessSettings
from rollout_orchestrator.deployments import service
from rollout_orchestrator.deployments.engine.driving import Driver

Clock = Callable[[], datetime]
OUTCOMES: dict[int, str] = {
    ApprovalOutcome.APPROVAL_OUTCOME_GRANTED: "granted",
    ApprovalOutcome.APPROVAL_OUTCOME_REJECTED: "rejected",
    ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED: "expired",
    ApprovalOutcome.APPROVAL_OUTCOME_SUPERSEDED: "superseded",
}


@dataclass(frozen=True, slots=True)
class Decided:
    outcome: service.ApprovalOutcome | None  # None: not about a deployment


@dataclass(frozen=True, slots=True)
class Violated:
    violation: service.Violation


def _when(stamp: Timestamp, fallback: datetime) -> datetime:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return fallback
    return stamp.ToDatetime(tzinfo=UTC)


def decided(data: bytes) -> Decided:
    try:
        envelope = decode(data)
        payload = unpack(envelope, ApprovalDecided)
        occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    except (MalformedEnvelope, UnknownEventType, UnexpectedEventType, ValueError) as exc:
        raise Undecodable(str(exc)) from exc
    if payload.subject_kind != SubjectKind.SUBJECT_KIND_DEPLOYMENT:
        return Decided(None)
    outcome = OUTCOMES.get(payload.outcome)
    if outcome is None or not payload.subject_id or not payload.approval_id:
        raise Undecodable(f"approval.decided {payload.approval_id[:100]!r}: no outcome or subject")
    return Decided(
        service.ApprovalOutcome(
            agency=envelope.agency,
            approval_id=payload.approval_id,
            deployment_id=payload.subject_id,
            outcome=outcome,
            decided_by=list(payload.decided_by)[:50],
            decided_at=_when(payload.decided_at, occurred),
            reason=payload.reason[:1000],
        )
    )


def violated(data: bytes) -> Violated:
    try:
        envelope = decode(data)
        payload = unpack(envelope, PolicyViolation)
        occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    except (MalformedEnvelope, UnknownEventType, UnexpectedEventType, ValueError) as exc:
        raise Undecodable(str(exc)) from exc
    if not payload.agent_id and not payload.deployment_id:
        raise Undecodable("policy.violation names neither an agent nor a deployment")
    return Violated(
        service.Violation(
            agency=envelope.agency,
            agent_id=payload.agent_id,
            rule_id=payload.rule_id[:200],
            decision_id=payload.decision_id,
            deployment_id=payload.deployment_id or None,
            message=payload.message[:500],
            at=occurred,
        )
    )


def decided_consumer(
    settings: ProcessSettings, driver: Driver, clock: Clock
) -> ConsumerSpec[Decided]:
    async def handle(session: AsyncSession, messages: Sequence[Message[Decided]]) -> None:
        for message in messages:
            if message.payload.outcome is not None:
                await service.approval_decided(session, driver, message.payload.outcome, clock())

    return ConsumerSpec(
        name="rollout-orchestrator-approval-decided",
        stream="CORTEX_APPROVAL",
        filter_subjects=[subject_filter("approval", "decided")],
        decode=decided,
        handler=handle,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
        batch_size=settings.consumer_batch_size,
    )


def violation_consumer(
    settings: ProcessSettings, driver: Driver, clock: Clock
) -> ConsumerSpec[Violated]:
    async def handle(session: AsyncSession, messages: Sequence[Message[Violated]]) -> None:
        for message in messages:
            await service.policy_violated(session, driver, message.payload.violation, clock())

    return ConsumerSpec(
        name="rollout-orchestrator-policy-violation",
        stream="CORTEX_POLICY",
        filter_subjects=[subject_filter("policy", "violation")],
        decode=violated,
        handler=handle,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
        batch_size=settings.consumer_batch_size,
    )
