"""All SQL of wizard sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.models import wizard_sessions as w


@dataclass(frozen=True, slots=True)
class WizardSession:
    """One agency's wizard: the answers saved so far, by step."""

    agency: str
    answers: dict[str, Any]
    """Each saved step's answers, as the step's model dumps them (JSON)."""
    completed_steps: list[str]
    published_version: int | None
    updated_at: datetime


async def get(session: AsyncSession, agency: str) -> WizardSession | None:
    row = (await session.execute(select(w).where(w.c.agency == agency))).mappings().first()
    return WizardSession(**row) if row else None


async def save(
    session: AsyncSession,
    agency: str,
    answers: dict[str, Any],
    completed: list[str],
    published_version: int | None,
) -> None:
    values = {
        "agency": agency,
        "answers": answers,
        "completed_steps": completed,
        "published_version": published_version,
    }
    stmt = pg_insert(w).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[w.c.agency],
            set_={
                **{k: stmt.excluded[k] for k in values if k != "agency"},
                "updated_at": func.now(),
            },
        )
    )
