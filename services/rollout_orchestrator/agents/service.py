"""Use cases of the agent registry (no FastAPI, no NATS). They only flush; the request's
session commits, and the desired revisions changed are woken after that commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.db import Database
from rollout_orchestrator.agents import repository
from rollout_orchestrator.agents.repository import Agent, HealthValue, Registered
from rollout_orchestrator.agents.waiting import Key, Waiters
from rollout_orchestrator.deployments import repository as runs
from rollout_orchestrator.deployments.engine.signals import RUNS_CHANGED
from rollout_orchestrator.errors import AgentNotFound

DESIRED_CHANGED = "rollout.desired_changed"
"""``session.info`` key: the (agency, agent id) whose desired revision this session changed."""


def _not_found(agent_id: str) -> AgentNotFound:
    return AgentNotFound(
        f"No agent {agent_id!r} is registered in this agency.",
        remediation="Register the agent first (POST /v1/agents), in the agency it belongs to.",
    )


def is_stale(agent: Agent, now: datetime, stale_after: timedelta) -> bool:
    """No heartbeat for ``stale_after`` (an agent never heard from: since it registered)."""
    last = agent.last_heartbeat_at or agent.registered_at
    return now - last >= stale_after


async def register(
    session: AsyncSession,
    agency: str,
    agent_id: str,
    labels: dict[str, str],
    runtime: str,
    current_revision: str,
    now: datetime,
) -> Registered:
    return await repository.upsert(
        session, agency, agent_id, labels, runtime, current_revision, now
    )


async def heartbeat(
    session: AsyncSession,
    agency: str,
    agent_id: str,
    applied_revision: str,
    healthy: bool,
    health: dict[str, HealthValue],
    now: datetime,
) -> Agent:
    agent = await repository.heartbeat(
        session, agency, agent_id, applied_revision, healthy, health, now
    )
    if agent is None:
        raise _not_found(agent_id)
    # A reading for the run observing the agent's batch (when it runs the run's revision); a
    # run it concerns is woken after the commit, so its verdict comes within a tick.
    if await runs.record_reading(session, agency, agent_id, applied_revision, healthy, now):
        session.info[RUNS_CHANGED] = True
    return agent


async def set_desired(session: AsyncSession, agency: str, agent_id: str, revision: str) -> Agent:
    """Pin the agent's desired revision; its long-polls are answered after the commit."""
    agent = await repository.set_desired(session, agency, agent_id, revision)
    if agent is None:
        raise _not_found(agent_id)
    changed: set[Key] = session.info.setdefault(DESIRED_CHANGED, set())
    changed.add((agency, agent_id))
    return agent


async def get(session: AsyncSession, agency: str, agent_id: str) -> Agent:
    agent = await repository.get(session, agency, agent_id)
    if agent is None:
        raise _not_found(agent_id)
    return agent


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Agent]
    next_after: str | None  # the last id when more may follow


async def list_agents(
    session: AsyncSession, agency: str, selector: dict[str, str], after: str | None, limit: int
) -> Page:
    items = await repository.list_agents(session, agency, selector, after, limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return Page(items, items[-1].id if more else None)


async def read_desired(
    db: Database,
    waiters: Waiters,
    agency: str,
    agent_id: str,
    known: str | None,
    wait_s: float,
) -> Agent:
    """The agent as stored; when ``known`` is its desired revision and ``wait_s`` > 0, as soon
    as that changes (in this process) or when the wait ends, read again. No database
    connection is held while waiting."""
    key = (agency, agent_id)
    future = waiters.register(key) if wait_s > 0 and known is not None else None
    try:
        async with db.session() as session:
            agent = await get(session, agency, agent_id)
        if future is None or agent.desired_revision != known:
            return agent
        await waiters.wait(future, wait_s)
        async with db.session() as session:
            return await get(session, agency, agent_id)
    finally:
        if future is not None:
            waiters.release(key, future)
