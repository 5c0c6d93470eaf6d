"""Use cases of delivery events: record every version from the bus, merge, read back."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.logs import get_logger
from cortex_kit.messaging.handlers import Message
from metrics_collector.domain.facts.mapping import DeliveryFact, merge_versions
from metrics_collector.events import repository
from metrics_collector.events.decoding import EVENT_DATA_ERRORS, ReceivedFacts, refusal
from metrics_collector.events.errors import EventNotFound
from metrics_collector.events.repository import Identity, MergedFactRow

log = get_logger("metrics_collector.events")
Received = Message[ReceivedFacts]
"""A bus message, decoded: the facts it carries and the events refused at decoding."""


def _identity(fact: DeliveryFact) -> Identity:
    return (fact.agency, fact.kind, fact.event_id)


async def record_deliveries(
    session: AsyncSession, messages: Sequence[Received]
) -> list[DeliveryFact]:
    """Keep every version the messages carry, then store each touched fact merged from all its
    versions (so late, duplicate and out-of-order versions give what in-order delivery gives).
    An event refused at decoding or by the store is rejected alone (``Message.reject_item``:
    dead-lettered with its reason) and every other one is stored. Returns the merged facts."""
    facts: list[DeliveryFact] = []
    carriers: list[Received] = []  # the message of each fact
    for message in messages:
        for refused in message.payload.refused:
            message.reject_item(refused.item, refused.reason)
        carried = message.payload.facts
        facts += carried
        carriers += [message] * len(carried)
    # Locked once, outside the savepoints: a retried half takes no lock in a new order.
    await repository.lock_identities(session, sorted({_identity(f) for f in facts}))
    return await _store_isolating(session, facts, carriers)


async def _store_isolating(
    session: AsyncSession, facts: Sequence[DeliveryFact], carriers: Sequence[Received]
) -> list[DeliveryFact]:
    """Store all in one savepoint; if the data of some event is refused, halve and retry down
    to the events to blame (a few savepoints per bad event, one in the common case)."""
    if not facts:
        return []
    try:
        async with session.begin_nested():
            return await _store(session, facts)
    except Exception as exc:
        if not _event_data_error(exc):
            raise
        if len(facts) == 1:
            [fact] = facts
            log.warning(
                "events.fact_refused", envelope_id=fact.envelope_id, error=type(exc).__name__
            )
            refused = refusal(fact, f"not stored: {type(exc).__name__}: {exc}")
            carriers[0].reject_item(refused.item, refused.reason)
            return []
    half = len(facts) // 2
    head = await _store_isolating(session, facts[:half], carriers[:half])
    return head + await _store_isolating(session, facts[half:], carriers[half:])


def _event_data_error(exc: Exception) -> bool:
    """Whether ``exc`` blames the data stored (a value PostgreSQL refuses, versions the merge
    rule refuses), not the database or the code."""
    return isinstance(exc, EVENT_DATA_ERRORS) or repository.refused_data(exc)


async def _store(session: AsyncSession, facts: Sequence[DeliveryFact]) -> list[DeliveryFact]:
    batch: dict[Identity, list[DeliveryFact]] = {}
    for fact in facts:
        batch.setdefault(_identity(fact), []).append(fact)
    # A fact seen for the first time, once, is its own merge: no need to read it back.
    first = [len(batch[_identity(f)]) == 1 for f in facts]
    created = await repository.store(session, facts, first)
    again = [identity for identity in batch if identity not in created]
    versions = await repository.versions_of(session, again)
    merged = [(merge_versions(group), len(group)) for group in versions.values()]
    await repository.upsert_merged(session, merged)
    new = [f for f in facts if _identity(f) in created]
    return new + [fact for fact, _ in merged]


async def get_event(session: AsyncSession, agency: str, kind: str, event_id: str) -> MergedFactRow:
    row = await repository.get_fact(session, agency, kind, event_id)
    if row is None:
        raise EventNotFound(
            f"No {kind} event {event_id!r} in agency {agency!r}.",
            remediation="Events are visible within a second of being accepted; check the id, "
            "the kind and the agency of your API key.",
        )
    return row


async def list_events(
    session: AsyncSession, agency: str, kind: str | None, limit: int
) -> list[MergedFactRow]:
    return await repository.list_facts(session, agency, kind, limit)
