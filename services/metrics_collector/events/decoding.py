"""From a bus message to the facts it carries, each checked on its own so that one bad event of
a DeliveryBatch is dead-lettered alone and the others are stored."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from google.protobuf.message import Message

from cortex_contracts import DeliveryBatch, MalformedEnvelope, UnknownEventType, decode, unpack
from cortex_kit.messaging.handlers import RejectedItem, Undecodable
from cortex_kit.text import identifier_problem, storable_problem
from metrics_collector.domain.facts.mapping import DeliveryFact, to_facts

# Errors of the mapping code that mean "this event's data", not "this code" (a timestamp out of
# range, a value of the wrong shape).
EVENT_DATA_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, OverflowError)
# Characters of an id quoted in a reason (the reason must leave room for the cause).
_SHOWN_ID = 100


@dataclass(frozen=True)
class ReceivedFacts:
    """What one bus message carries: the facts that can be stored, and the events refused at
    decoding (their handler dead-letters each alone, with its reason)."""

    facts: list[DeliveryFact]
    refused: list[RejectedItem]


def refusal(fact: DeliveryFact, reason: str) -> RejectedItem:
    """The dead letter of the event ``fact`` stands for, naming it."""
    event_id = fact.event_id
    shown = repr(event_id[:_SHOWN_ID])
    if len(event_id) > _SHOWN_ID:
        shown += f"... ({len(event_id)} characters)"
    return RejectedItem(fact.envelope_id, f"{fact.kind} {shown} ({fact.envelope_id}): {reason}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)


def fact_problem(fact: DeliveryFact) -> str | None:
    """Why the store cannot hold ``fact`` (the rule of cortex_kit.text), or None: its id,
    service and environment are identifiers, every other string is storable text."""
    for name, value in (
        ("id", fact.event_id),
        ("service", fact.service),
        ("environment", fact.environment or ""),
    ):
        problem = identifier_problem(value)
        if problem is not None:
            return f"{name} {problem}"
    for name, value in fact.facts.items():
        for text in _strings(value):
            problem = storable_problem(text)
            if problem is not None:
                return f"{name} {problem}"
    return None


def _events(envelope_id: str, payload: Message) -> Iterator[tuple[str, str, Message | None]]:
    """(version id, kind, event) of each event an envelope carries; event None if empty."""
    if not isinstance(payload, DeliveryBatch):
        yield envelope_id, payload.DESCRIPTOR.name, payload
        return
    for n, item in enumerate(payload.events):
        kind = item.WhichOneof("event")
        yield f"{envelope_id}/{n}", kind or "empty", getattr(item, kind) if kind else None


def _all_fine(data: bytes, facts: Sequence[DeliveryFact]) -> bool:
    """Whether no fact can have a problem, with one search for the whole message: a NUL is the
    one character a decoded protobuf string can hold and the store cannot (bad UTF-8, a
    surrogate included, fails decoding), and its byte is rare in the wire format; then only
    control characters in the ids are left to look for."""
    if b"\x00" in data:
        return False
    ids = " ".join(f"{f.event_id} {f.service} {f.environment or ''}" for f in facts)
    return identifier_problem(ids) is None


def received_facts(data: bytes) -> ReceivedFacts:
    """The facts a message carries: one, or each event of a DeliveryBatch, whose n-th event is
    the version ``<envelope id>/<n>``. A bad envelope is ``Undecodable``; a bad event is
    refused alone and the others are kept."""
    try:
        envelope = decode(data)
        payload = unpack(envelope)
    except (MalformedEnvelope, UnknownEventType) as exc:
        raise Undecodable(str(exc)) from exc
    problem = identifier_problem(envelope.source)
    if problem is not None:
        raise Undecodable(f"envelope {envelope.id}: source {problem}")
    occurred_at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    facts = []
    refused: list[RejectedItem] = []
    for version_id, kind, event in _events(envelope.id, payload):
        if event is None:
            refused.append(RejectedItem(version_id, f"event {version_id} is empty"))
            continue
        try:
            facts += to_facts(
                event,
                agency=envelope.agency,
                envelope_id=version_id,
                source=envelope.source,
                occurred_at=occurred_at,
            )
        except EVENT_DATA_ERRORS as exc:
            refused.append(RejectedItem(version_id, f"{kind} {version_id}: {exc}"))
    if _all_fine(data, facts):
        return ReceivedFacts(facts, refused)
    fine = []
    for fact in facts:
        problem = fact_problem(fact)
        if problem is None:
            fine.append(fact)
        else:
            refused.append(refusal(fact, problem))
    return ReceivedFacts(fine, refused)
