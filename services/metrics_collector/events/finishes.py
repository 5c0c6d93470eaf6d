"""Use case: when did these deployments finish? (The gateway asks before it accepts an
incident that names one: docs/metrics.md "Incident → deployment linking".)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from metrics_collector.domain.facts.model import Deployment, fact_from_stored
from metrics_collector.domain.metrics.commits import placed_at
from metrics_collector.events import repository


async def deployment_finishes(
    session: AsyncSession, agency: str, deployment_ids: Sequence[str]
) -> dict[str, datetime]:
    """The merged finish of each known, finished deployment among ``deployment_ids``."""
    found: dict[str, datetime] = {}
    for row in await repository.deployment_rows(session, agency, sorted(set(deployment_ids))):
        fact = fact_from_stored(
            "deployment", row.facts, event_id=row.event_id, occurred_at=row.occurred_at
        )
        assert isinstance(fact, Deployment)
        if (at := placed_at(fact)) is not None:
            found[row.event_id] = at
    return found
