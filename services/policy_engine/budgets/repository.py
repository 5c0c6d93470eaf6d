"""All SQL of budgets: running totals per window, reservations and their settlement.

A reservation adds the estimated cost to every applicable counter in ONE conditional UPDATE
(``usd + :cost <= :limit``); PostgreSQL row locks make it atomic across concurrent requests and
replicas, so a hard limit can never be exceeded by reservations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Counter:
    """One budget window: the agency's or one agent's spending for a day or a month."""

    agent_id: str  # "" for the agency-wide counter
    period: str  # "day" | "month"
    period_start: date
    max_usd: Decimal | None
    max_tokens: int | None


@dataclass(frozen=True)
class Usage:
    agent_id: str
    period: str
    usd: Decimal
    tokens: int


_ENSURE = text(
    """
    INSERT INTO policy.budget_usage (agency, agent_id, period, period_start)
    SELECT :agency, a, p, s FROM unnest(CAST(:agents AS text[]), CAST(:periods AS text[]),
                                        CAST(:starts AS date[])) AS t(a, p, s)
    ON CONFLICT DO NOTHING
    """
)

_RESERVE = text(
    """
    UPDATE policy.budget_usage AS u
       SET usd = u.usd + :usd, tokens = u.tokens + :tokens
      FROM unnest(CAST(:agents AS text[]), CAST(:periods AS text[]), CAST(:starts AS date[]),
                  CAST(:max_usd AS numeric[]), CAST(:max_tokens AS bigint[]))
           AS c(agent_id, period, period_start, max_usd, max_tokens)
     WHERE u.agency = :agency AND u.agent_id = c.agent_id AND u.period = c.period
       AND u.period_start = c.period_start
       AND (c.max_usd IS NULL OR u.usd + :usd <= c.max_usd)
       AND (c.max_tokens IS NULL OR u.tokens + :tokens <= c.max_tokens)
    RETURNING u.agent_id, u.period, u.usd, u.tokens
    """
)

_USAGE = text(
    """
    SELECT agent_id, period, usd, tokens FROM policy.budget_usage
     WHERE agency = :agency AND agent_id = ANY(CAST(:agents AS text[]))
       AND ((period = 'day' AND period_start = :day)
            OR (period = 'month' AND period_start = :month))
    """
)


def _arrays(counters: Sequence[Counter]) -> dict[str, list[object]]:
    return {
        "agents": [c.agent_id for c in counters],
        "periods": [c.period for c in counters],
        "starts": [c.period_start for c in counters],
        "max_usd": [c.max_usd for c in counters],
        "max_tokens": [c.max_tokens for c in counters],
    }


async def usage(
    session: AsyncSession, agency: str, agent_id: str, day: date, month: date
) -> list[Usage]:
    rows = await session.execute(
        _USAGE, {"agency": agency, "agents": ["", agent_id], "day": day, "month": month}
    )
    return [Usage(r.agent_id, r.period, Decimal(r.usd), int(r.tokens)) for r in rows]


async def reserve(
    session: AsyncSession,
    agency: str,
    counters: Sequence[Counter],
    usd: Decimal,
    tokens: int,
) -> tuple[set[tuple[str, str]], list[Usage]]:
    """Add to every counter or to none: (the counters that refused, the new totals)."""
    if not counters:
        return set(), []
    arrays = _arrays(counters)
    await session.execute(_ENSURE, {"agency": agency, **arrays})
    async with session.begin_nested() as savepoint:
        rows = await session.execute(
            _RESERVE, {"agency": agency, "usd": usd, "tokens": tokens, **arrays}
        )
        totals = [Usage(r.agent_id, r.period, Decimal(r.usd), int(r.tokens)) for r in rows]
        refused = {(c.agent_id, c.period) for c in counters} - {
            (u.agent_id, u.period) for u in totals
        }
        if refused:
            await savepoint.rollback()
            return refused, []
    return refused, totals


async def add_usage(
    session: AsyncSession, agency: str, counters: Sequence[Counter], usd: Decimal, tokens: int
) -> None:
    """Unconditional adjustment (settlement of actual usage; may be negative)."""
    arrays = _arrays(counters)
    await session.execute(_ENSURE, {"agency": agency, **arrays})
    await session.execute(
        text(
            """
            UPDATE policy.budget_usage AS u SET usd = u.usd + :usd, tokens = u.tokens + :tokens
              FROM unnest(CAST(:agents AS text[]), CAST(:periods AS text[]),
                          CAST(:starts AS date[])) AS c(agent_id, period, period_start)
             WHERE u.agency = :agency AND u.agent_id = c.agent_id AND u.period = c.period
               AND u.period_start = c.period_start
            """
        ),
        {
            "agency": agency,
            "usd": usd,
            "tokens": tokens,
            "agents": arrays["agents"],
            "periods": arrays["periods"],
            "starts": arrays["starts"],
        },
    )


async def insert_reservation(session: AsyncSession, **values: object) -> None:
    await session.execute(
        text(
            """
            INSERT INTO policy.budget_reservations
                (decision_id, agency, agent_id, day, month, reserved_usd, reserved_tokens)
            VALUES (:decision_id, :agency, :agent_id, :day, :month, :reserved_usd, :reserved_tokens)
            """
        ),
        values,
    )


async def settle_reservation(
    session: AsyncSession, agency: str, decision_id: str, usd: Decimal, tokens: int
) -> dict[str, object] | None:
    """Mark a reservation settled; None if unknown, of another agency, or already settled."""
    row = (
        (
            await session.execute(
                text(
                    """
                UPDATE policy.budget_reservations
                   SET actual_usd = :usd, actual_tokens = :tokens, settled_at = now()
                 WHERE decision_id = :decision_id AND agency = :agency AND settled_at IS NULL
                RETURNING agent_id, day, month, reserved_usd, reserved_tokens
                """
                ),
                {"decision_id": decision_id, "agency": agency, "usd": usd, "tokens": tokens},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
