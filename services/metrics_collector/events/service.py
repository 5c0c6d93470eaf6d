"""Use cases of delivery events: record from the bus, read back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import MalformedEnvelope, UnknownEventType, decode, unpack
from cortex_kit.errors import NotFound
from cortex_kit.messaging.consumer import Delivery, PoisonMessage
from metrics_collector.domain.facts import DeliveryFact, to_fact
from metrics_collector.events import repository


def _fact(delivery: Delivery) -> DeliveryFact:
    try:
        envelope = decode(delivery.data)
        payload = unpack(envelope)
        return to_fact(
            payload,
            agency=envelope.agency,
            envelope_id=envelope.id,
            source=envelope.source,
            occurred_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
        )
    except (MalformedEnvelope, UnknownEventType, TypeError) as exc:
        raise PoisonMessage(str(exc)) from exc


async def record_deliveries(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
    await repository.insert_facts(session, [_fact(d) for d in deliveries])


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
