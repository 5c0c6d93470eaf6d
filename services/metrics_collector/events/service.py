"""Use cases of delivery events: record every version from the bus, merge, read back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import DeliveryBatch, MalformedEnvelope, UnknownEventType, decode, unpack
from cortex_kit.errors import NotFound
from cortex_kit.messaging.consumer import Delivery, PoisonMessage
from metrics_collector.domain.facts import DeliveryFact, merge_versions, to_fact
from metrics_collector.events import repository
from metrics_collector.events.repository import Identity


def _facts(delivery: Delivery) -> list[DeliveryFact]:
    """The facts an envelope carries: one, or each event of a DeliveryBatch, whose n-th event
    is stored as the version ``<envelope id>/<n>``."""
    try:
        envelope = decode(delivery.data)
        payload = unpack(envelope)
        occurred_at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        if not isinstance(payload, DeliveryBatch):
            items = [(envelope.id, payload)]
        else:
            items = []
            for n, item in enumerate(payload.events):
                kind = item.WhichOneof("event")
                if kind is None:
                    raise TypeError(f"event {n} of batch {envelope.id} is empty")
                items.append((f"{envelope.id}/{n}", getattr(item, kind)))
        return [
            to_fact(
                event,
                agency=envelope.agency,
                envelope_id=version_id,
                source=envelope.source,
                occurred_at=occurred_at,
            )
            for version_id, event in items
        ]
    except (MalformedEnvelope, UnknownEventType, TypeError) as exc:
        raise PoisonMessage(str(exc)) from exc


async def record_facts(session: AsyncSession, facts: Sequence[DeliveryFact]) -> list[DeliveryFact]:
    """Keep every version, then store each touched fact merged from all its versions (so late,
    duplicate and out-of-order versions give what in-order delivery gives). Returns the
    merged facts."""
    batch: dict[Identity, list[DeliveryFact]] = {}
    for fact in facts:
        batch.setdefault((fact.agency, fact.kind, fact.event_id), []).append(fact)
    await repository.lock_identities(session, sorted(batch))
    # A fact seen for the first time, once, is its own merge: no need to read it back.
    first = [len(batch[(f.agency, f.kind, f.event_id)]) == 1 for f in facts]
    created = await repository.store(session, facts, first)
    again = [identity for identity in batch if identity not in created]
    versions = await repository.versions_of(session, again)
    merged = [(merge_versions(group), len(group)) for group in versions.values()]
    await repository.upsert_merged(session, merged)
    new = [f for f in facts if (f.agency, f.kind, f.event_id) in created]
    return new + [fact for fact, _ in merged]


async def record_deliveries(
    session: AsyncSession, deliveries: Sequence[Delivery]
) -> list[DeliveryFact]:
    return await record_facts(session, [f for d in deliveries for f in _facts(d)])


async def get_event(session: AsyncSession, agency: str, kind: str, event_id: str) -> dict[str, Any]:
    row = await repository.get_fact(session, agency, kind, event_id)
    if row is None:
        raise NotFound(
            f"No {kind} event {event_id!r} in agency {agency!r}.",
            remediation="Events are visible within a second of being accepted; check the id, "
            "the kind and the agency of your API key.",
            code="event_not_found",
        )
    return row


async def list_events(
    session: AsyncSession, agency: str, kind: str | None, limit: int
) -> list[dict[str, Any]]:
    return await repository.list_facts(session, agency, kind, limit)
