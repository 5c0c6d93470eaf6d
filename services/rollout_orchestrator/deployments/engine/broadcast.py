"""Desired revisions changed by another replica: every replica hears each published
``deploy.transitioned`` (core NATS sees JetStream's publishes); a batch applied or a rollback
started wakes this process's long-polls of that agency, which read their agent again. Safe to
miss (a long-poll also ends after its wait) and to repeat."""

from __future__ import annotations

from dataclasses import dataclass

from cortex_contracts import (
    DeploymentTransitioned,
    MalformedEnvelope,
    UnexpectedEventType,
    UnknownEventType,
    decode,
    subject_filter,
    unpack,
)
from cortex_kit.messaging.broadcast import Broadcast
from cortex_kit.messaging.handlers import Message, Undecodable
from rollout_orchestrator.agents.waiting import Waiters

MOVES_AGENTS = frozenset({"batch_started", "rollback_started", "stuck"})
"""Transitions that change desired revisions."""


@dataclass(frozen=True, slots=True)
class Moved:
    agency: str
    event: str


def moved(data: bytes) -> Moved:
    try:
        envelope = decode(data)
        payload = unpack(envelope, DeploymentTransitioned)
    except (MalformedEnvelope, UnknownEventType, UnexpectedEventType) as exc:
        raise Undecodable(str(exc)) from exc
    return Moved(envelope.agency, payload.event)


def desired_broadcast(waiters: Waiters) -> Broadcast[Moved]:
    async def heard(message: Message[Moved]) -> None:
        if message.payload.event in MOVES_AGENTS:
            waiters.wake_agency(message.payload.agency)

    return Broadcast(
        "rollout-desired-waiters", subject_filter("deploy", "transitioned"), moved, heard
    )
