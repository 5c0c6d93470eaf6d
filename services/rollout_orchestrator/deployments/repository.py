"""All SQL of deployment runs. Returns typed rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, and_, func, insert, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from rollout_orchestrator.deployments.rows import (
    Batch,
    Busy,
    FleetAgent,
    IdempotentCreate,
    Reverts,
    Run,
    Transition,
)
from rollout_orchestrator.domain.gate import Reading
from rollout_orchestrator.domain.run import ACTIVE, BatchStatus, RunStatus
from rollout_orchestrator.models import (
    agents,
    batches,
    health_readings,
    idempotency_keys,
    runs,
    snapshot_entries,
    transitions,
)

TOUCHED: tuple[BatchStatus, ...] = ("observing", "passed", "failed", "reverted")
"""Batches whose agents were told the new revision."""
_ACTIVE = sorted(ACTIVE)


_RUN_COLUMNS = list(runs.c)
_BATCH_COLUMNS = list(batches.c)


def _run(row: Row[Any]) -> Run:
    return Run(**{c.name: getattr(row, c.name) for c in runs.c})


def _batch(row: Row[Any]) -> Batch:
    return Batch(**{c.name: getattr(row, c.name) for c in batches.c})


def _transition(row: Row[Any]) -> Transition:
    return Transition(**{c.name: getattr(row, c.name) for c in transitions.c})


async def lock_agency(session: AsyncSession, agency: str) -> None:
    """Serialise the creation of runs in an agency (the busy-target check, the keys)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"rollout.runs:{agency}"},
    )


async def fleet(
    session: AsyncSession, agency: str, selector: dict[str, str] | None, ids: list[str] | None
) -> list[FleetAgent]:
    statement = select(agents.c.id, agents.c.labels, agents.c.desired_revision).where(
        agents.c.agency == agency
    )
    if ids is not None:
        statement = statement.where(agents.c.id.in_(ids))
    elif selector:
        statement = statement.where(agents.c.labels.contains(selector))
    rows = (await session.execute(statement)).all()
    return [FleetAgent(r.id, dict(r.labels), r.desired_revision) for r in rows]


async def busy(session: AsyncSession, agency: str, agent_ids: Sequence[str]) -> list[Busy]:
    """Which of ``agent_ids`` an active run of the agency holds."""
    statement = (
        select(snapshot_entries.c.agent_id, snapshot_entries.c.run_id)
        .join(runs, runs.c.id == snapshot_entries.c.run_id)
        .where(
            snapshot_entries.c.agency == agency,
            snapshot_entries.c.agent_id.in_(list(agent_ids)),
            runs.c.status.in_(_ACTIVE),
        )
        .order_by(snapshot_entries.c.agent_id)
    )
    return [Busy(r.agent_id, r.run_id) for r in (await session.execute(statement)).all()]


async def idempotent_create(
    session: AsyncSession, agency: str, key: str
) -> IdempotentCreate | None:
    statement = select(idempotency_keys.c.body_hash, idempotency_keys.c.run_id).where(
        idempotency_keys.c.agency == agency, idempotency_keys.c.key == key
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else IdempotentCreate(row.body_hash, row.run_id)


async def remember_key(
    session: AsyncSession, agency: str, key: str, body_hash: str, run_id: str, now: datetime
) -> None:
    await session.execute(
        insert(idempotency_keys).values(
            agency=agency, key=key, body_hash=body_hash, run_id=run_id, created_at=now
        )
    )


async def insert_run(
    session: AsyncSession,
    values: dict[str, Any],
    planned: Sequence[Sequence[str]],
    snapshot: dict[str, str],
) -> Run:
    row = (await session.execute(insert(runs).values(**values).returning(*_RUN_COLUMNS))).one()
    run = _run(row)
    await session.execute(
        insert(batches),
        [
            {"run_id": run.id, "index": i, "size": len(ids), "status": "pending"}
            for i, ids in enumerate(planned)
        ],
    )
    entries = [
        {
            "run_id": run.id,
            "agency": run.agency,
            "agent_id": agent_id,
            "batch_index": i,
            "revision": snapshot[agent_id],
        }
        for i, ids in enumerate(planned)
        for agent_id in ids
    ]
    for at in range(0, len(entries), 5000):
        await session.execute(insert(snapshot_entries), entries[at : at + 5000])
    return run


async def insert_transition(session: AsyncSession, values: dict[str, Any]) -> Transition:
    row = (
        await session.execute(insert(transitions).values(**values).returning(*transitions.c))
    ).one()
    return _transition(row)


async def get_run(session: AsyncSession, agency: str | None, run_id: str) -> Run | None:
    statement = select(*_RUN_COLUMNS).where(runs.c.id == run_id)
    if agency is not None:
        statement = statement.where(runs.c.agency == agency)
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else _run(row)


async def lock_run(
    session: AsyncSession, agency: str | None, run_id: str, *, skip_locked: bool
) -> Run | None:
    """The run, locked for this transaction (None: not found, or another holds it and
    ``skip_locked``)."""
    statement = select(*_RUN_COLUMNS).where(runs.c.id == run_id)
    if agency is not None:
        statement = statement.where(runs.c.agency == agency)
    statement = statement.with_for_update(skip_locked=skip_locked)
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else _run(row)


async def update_run(session: AsyncSession, run: Run, values: dict[str, Any]) -> Run:
    """Write ``values`` and the next version; fenced by the version read (a writer that lost
    its lock and read an older row writes nothing and fails)."""
    statement = (
        update(runs)
        .where(runs.c.id == run.id, runs.c.version == run.version)
        .values(version=run.version + 1, **values)
        .returning(*_RUN_COLUMNS)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise RuntimeError(f"run {run.id} changed under its lock (version {run.version})")
    return _run(row)


async def batches_of(session: AsyncSession, run_id: str) -> list[Batch]:
    statement = select(*_BATCH_COLUMNS).where(batches.c.run_id == run_id).order_by(batches.c.index)
    return [_batch(r) for r in (await session.execute(statement)).all()]


async def batches_of_runs(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, list[Batch]]:
    statement = (
        select(*_BATCH_COLUMNS)
        .where(batches.c.run_id.in_(list(run_ids)))
        .order_by(batches.c.run_id, batches.c.index)
    )
    found: dict[str, list[Batch]] = {run_id: [] for run_id in run_ids}
    for row in (await session.execute(statement)).all():
        found[row.run_id].append(_batch(row))
    return found


async def update_batch(
    session: AsyncSession, run_id: str, index: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(batches).where(batches.c.run_id == run_id, batches.c.index == index).values(**values)
    )


async def batch_agents(session: AsyncSession, run_id: str) -> dict[int, list[str]]:
    statement = (
        select(snapshot_entries.c.batch_index, snapshot_entries.c.agent_id)
        .where(snapshot_entries.c.run_id == run_id)
        .order_by(snapshot_entries.c.batch_index, snapshot_entries.c.agent_id)
    )
    found: dict[int, list[str]] = {}
    for row in (await session.execute(statement)).all():
        found.setdefault(row.batch_index, []).append(row.agent_id)
    return found


async def batch_members(session: AsyncSession, run_id: str, index: int) -> list[str]:
    statement = (
        select(snapshot_entries.c.agent_id)
        .where(snapshot_entries.c.run_id == run_id, snapshot_entries.c.batch_index == index)
        .order_by(snapshot_entries.c.agent_id)
    )
    return list((await session.execute(statement)).scalars().all())


async def set_batch_desired(
    session: AsyncSession, run: Run, index: int, revision: str
) -> list[str]:
    """Desired revision of the batch's agents := ``revision``; the agent ids."""
    members = select(snapshot_entries.c.agent_id).where(
        snapshot_entries.c.run_id == run.id, snapshot_entries.c.batch_index == index
    )
    statement = (
        update(agents)
        .where(agents.c.agency == run.agency, agents.c.id.in_(members))
        .values(desired_revision=revision)
        .returning(agents.c.id)
    )
    return list((await session.execute(statement)).scalars().all())


async def revert_touched(session: AsyncSession, run: Run) -> list[str]:
    """Desired revision of every agent the run touched := its snapshot revision; their batches
    are marked reverted. The agent ids."""
    touched = and_(
        snapshot_entries.c.run_id == run.id,
        batches.c.run_id == snapshot_entries.c.run_id,
        batches.c.index == snapshot_entries.c.batch_index,
        batches.c.status.in_(TOUCHED),
    )
    statement = (
        update(agents)
        .where(
            agents.c.agency == run.agency,
            agents.c.id == snapshot_entries.c.agent_id,
            touched,
        )
        .values(desired_revision=snapshot_entries.c.revision)
        .returning(agents.c.id)
    )
    reverted = list((await session.execute(statement)).scalars().all())
    await session.execute(
        update(batches)
        .where(batches.c.run_id == run.id, batches.c.status.in_(TOUCHED))
        .values(status="reverted")
    )
    return reverted


async def revert_counts(session: AsyncSession, run_id: str) -> Reverts:
    """Agents of reverted batches, and how many of them run their snapshot revision again (an
    agent that never heartbeated runs what it registered with)."""
    running = func.coalesce(agents.c.applied_revision, agents.c.current_revision)
    statement = (
        select(
            func.count().label("total"),
            func.count().filter(running == snapshot_entries.c.revision).label("reverted"),
        )
        .select_from(snapshot_entries)
        .join(
            batches,
            and_(
                batches.c.run_id == snapshot_entries.c.run_id,
                batches.c.index == snapshot_entries.c.batch_index,
            ),
        )
        .join(
            agents,
            and_(
                agents.c.agency == snapshot_entries.c.agency,
                agents.c.id == snapshot_entries.c.agent_id,
            ),
        )
        .where(snapshot_entries.c.run_id == run_id, batches.c.status == "reverted")
    )
    row = (await session.execute(statement)).one()
    return Reverts(int(row.total), int(row.reverted))


async def readings(session: AsyncSession, run_id: str, index: int) -> list[Reading]:
    statement = select(
        health_readings.c.agent_id, health_readings.c.at, health_readings.c.healthy
    ).where(health_readings.c.run_id == run_id, health_readings.c.batch_index == index)
    return [Reading(r.agent_id, r.at, r.healthy) for r in (await session.execute(statement)).all()]


# One round trip per heartbeat: the agent's runs that are driven now, a reading for the one
# observing its batch (when the agent runs that run's revision), and the ids concerned.
_RECORD_READING = text(
    """
    WITH held AS (
        SELECT s.run_id, s.batch_index, r.status, r.revision, b.status AS batch_status
        FROM rollout.snapshot_entries s
        JOIN rollout.runs r ON r.id = s.run_id AND r.status IN ('running', 'rolling_back')
        JOIN rollout.batches b ON b.run_id = s.run_id AND b.index = s.batch_index
        WHERE s.agency = :agency AND s.agent_id = :agent_id
    ), recorded AS (
        INSERT INTO rollout.health_readings (run_id, batch_index, agent_id, at, healthy)
        SELECT run_id, batch_index, :agent_id, :at, :healthy FROM held
        WHERE status = 'running' AND revision = :revision AND batch_status = 'observing'
        RETURNING run_id
    )
    SELECT run_id FROM recorded
    UNION ALL
    SELECT run_id FROM held WHERE status = 'rolling_back'
    """
)


async def record_reading(
    session: AsyncSession,
    agency: str,
    agent_id: str,
    applied_revision: str,
    healthy: bool,
    now: datetime,
) -> list[str]:
    """A heartbeat's reading for the run observing the agent's batch, when the agent runs the
    run's revision; the ids of the runs it concerns (that one, or one rolling the agent back)."""
    params = {
        "agency": agency,
        "agent_id": agent_id,
        "revision": applied_revision,
        "healthy": healthy,
        "at": now,
    }
    return list((await session.execute(_RECORD_READING, params)).scalars().all())


async def driven_run_ids(
    session: AsyncSession, statuses: Sequence[RunStatus], after: str | None, limit: int
) -> list[str]:
    """A page of the runs in ``statuses``, by id after ``after``."""
    statement = select(runs.c.id).where(runs.c.status.in_(list(statuses)))
    if after is not None:
        statement = statement.where(runs.c.id > after)
    statement = statement.order_by(runs.c.id).limit(limit)
    return list((await session.execute(statement)).scalars().all())


async def list_runs(
    session: AsyncSession,
    agency: str,
    status: str | None,
    service: str | None,
    after: str | None,
    limit: int,
) -> list[Run]:
    """Newest first (ids are UUIDv7: their order is their creation's)."""
    statement = select(*_RUN_COLUMNS).where(runs.c.agency == agency)
    if status is not None:
        statement = statement.where(runs.c.status == status)
    if service is not None:
        statement = statement.where(runs.c.service == service)
    if after is not None:
        statement = statement.where(runs.c.id < after)
    statement = statement.order_by(runs.c.id.desc()).limit(limit)
    return [_run(r) for r in (await session.execute(statement)).all()]


async def transitions_of(session: AsyncSession, run_id: str) -> list[Transition]:
    statement = (
        select(*transitions.c).where(transitions.c.run_id == run_id).order_by(transitions.c.id)
    )
    return [_transition(r) for r in (await session.execute(statement)).all()]


async def has_event(session: AsyncSession, run_id: str, event: str) -> bool:
    statement = select(
        select(transitions.c.id)
        .where(transitions.c.run_id == run_id, transitions.c.event == event)
        .exists()
    )
    return bool((await session.execute(statement)).scalar())


async def version_of(session: AsyncSession, agency: str, run_id: str) -> int | None:
    statement = select(runs.c.version).where(runs.c.id == run_id, runs.c.agency == agency)
    return cast(int | None, (await session.execute(statement)).scalar_one_or_none())


async def runs_holding(
    session: AsyncSession, agency: str, agent_id: str, deployment_id: str | None
) -> list[str]:
    """Running or paused runs of the agency that hold ``agent_id`` (or are ``deployment_id``)."""
    holds = select(snapshot_entries.c.run_id).where(
        snapshot_entries.c.agency == agency, snapshot_entries.c.agent_id == agent_id
    )
    named = runs.c.id == deployment_id if deployment_id else literal(False)
    statement = select(runs.c.id).where(
        runs.c.agency == agency,
        runs.c.status.in_(["running", "paused"]),
        or_(runs.c.id.in_(holds), named),
    )
    return list((await session.execute(statement)).scalars().all())


async def status_counts(session: AsyncSession) -> dict[str, int]:
    statement = select(runs.c.status, func.count()).group_by(runs.c.status)
    return {r[0]: int(r[1]) for r in (await session.execute(statement)).all()}
