"""All SQL of the agent registry. Returns typed rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from rollout_orchestrator.models import agents

HealthValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class Agent:
    agency: str
    id: str
    labels: dict[str, str]
    runtime: str
    current_revision: str
    desired_revision: str
    applied_revision: str | None
    healthy: bool | None
    health: dict[str, HealthValue]
    registered_at: datetime
    last_heartbeat_at: datetime | None


@dataclass(frozen=True, slots=True)
class Registered:
    agent: Agent
    created: bool


def _agent(row: Row[Any]) -> Agent:
    return Agent(
        agency=row.agency,
        id=row.id,
        labels=dict(row.labels),
        runtime=row.runtime,
        current_revision=row.current_revision,
        desired_revision=row.desired_revision,
        applied_revision=row.applied_revision,
        healthy=row.healthy,
        health=dict(row.health),
        registered_at=row.registered_at,
        last_heartbeat_at=row.last_heartbeat_at,
    )


_COLUMNS = list(agents.c)


async def upsert(
    session: AsyncSession,
    agency: str,
    agent_id: str,
    labels: dict[str, str],
    runtime: str,
    current_revision: str,
    now: datetime,
) -> Registered:
    """Insert the agent (desired = current), or update its labels, runtime and current
    revision (its desired revision and health stay)."""
    statement = (
        pg_insert(agents)
        .values(
            agency=agency,
            id=agent_id,
            labels=labels,
            runtime=runtime,
            current_revision=current_revision,
            desired_revision=current_revision,
            health={},
            registered_at=now,
        )
        .on_conflict_do_update(
            constraint="pk_agents",
            set_={"labels": labels, "runtime": runtime, "current_revision": current_revision},
        )
        .returning(*_COLUMNS, text("(xmax = 0) AS created"))
    )
    row = (await session.execute(statement)).one()
    return Registered(_agent(row), bool(row.created))


async def heartbeat(
    session: AsyncSession,
    agency: str,
    agent_id: str,
    applied_revision: str,
    healthy: bool,
    health: dict[str, HealthValue],
    now: datetime,
) -> Agent | None:
    statement = (
        update(agents)
        .where(agents.c.agency == agency, agents.c.id == agent_id)
        .values(
            applied_revision=applied_revision,
            healthy=healthy,
            health=health,
            last_heartbeat_at=now,
        )
        .returning(*_COLUMNS)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else _agent(row)


async def set_desired(
    session: AsyncSession, agency: str, agent_id: str, revision: str
) -> Agent | None:
    statement = (
        update(agents)
        .where(agents.c.agency == agency, agents.c.id == agent_id)
        .values(desired_revision=revision)
        .returning(*_COLUMNS)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else _agent(row)


async def get(session: AsyncSession, agency: str, agent_id: str) -> Agent | None:
    statement = select(*_COLUMNS).where(agents.c.agency == agency, agents.c.id == agent_id)
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else _agent(row)


async def list_agents(
    session: AsyncSession,
    agency: str,
    selector: dict[str, str],
    after: str | None,
    limit: int,
) -> list[Agent]:
    """Up to ``limit`` agents of the agency whose labels contain ``selector``, by id."""
    statement = select(*_COLUMNS).where(agents.c.agency == agency)
    if selector:
        statement = statement.where(agents.c.labels.contains(selector))
    if after is not None:
        statement = statement.where(agents.c.id > after)
    statement = statement.order_by(agents.c.id).limit(limit)
    return [_agent(row) for row in (await session.execute(statement)).all()]
