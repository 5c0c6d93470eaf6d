"""All SQL of approval uses. Returns typed rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.models import uses as _U


@dataclass(frozen=True, slots=True)
class UseRow:
    approval_id: str
    decision_id: str
    agent_id: str
    input_hash: str
    used_at: datetime


async def find(session: AsyncSession, approval_id: str, decision_id: str) -> UseRow | None:
    statement = select(_U).where(_U.c.approval_id == approval_id, _U.c.decision_id == decision_id)
    row = (await session.execute(statement)).mappings().first()
    return UseRow(**row) if row else None


async def count(session: AsyncSession, approval_id: str) -> int:
    statement = select(func.count()).where(_U.c.approval_id == approval_id)
    return int((await session.execute(statement)).scalar_one())


async def insert(session: AsyncSession, use: UseRow) -> None:
    await session.execute(
        _U.insert().values(
            approval_id=use.approval_id,
            decision_id=use.decision_id,
            agent_id=use.agent_id,
            input_hash=use.input_hash,
            used_at=use.used_at,
        )
    )
