"""All SQL of budgets: running totals per window, reservations and their settlement, alerts.

A reservation adds the estimated cost to every applicable counter in ONE conditional UPDATE
(``usd + :cost <= :limit``); PostgreSQL row locks make it atomic across concurrent requests and
replicas, so a hard limit can never be exceeded by reservations. The UPDATE returns each
counter's totals before and after it (the row lock orders the updates, so every value a total
passes through belongs to exactly one of them): the crossings of alert thresholds are read
from those, and claimed once per window in ``budget_alerts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Result, text
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


@dataclass(frozen=True)
class Change:
    """What one atomic update did to one counter: its totals before and after."""

    agent_id: str
    period: str
    usd_before: Decimal
    usd_after: Decimal
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True, slots=True)
class Reserved:
    """A reservation just settled: what it had reserved, for whom and in which windows."""

    agent_id: str
    day: date
    month: date
    reserved_usd: Decimal
    reserved_tokens: int


@dataclass(frozen=True)
class AlertClaim:
    """One alert threshold crossed in one window (the unique key) and what crossed it."""

    agent_id: str
    period: str
    period_start: date
    unit: str
    threshold: Decimal
    used_before: Decimal
    used_after: Decimal
    limit: Decimal


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
    RETURNING u.agent_id, u.period, u.usd - :usd AS usd_before, u.usd AS usd_after,
              u.tokens - :tokens AS tokens_before, u.tokens AS tokens_after
    """
)

_ADD = text(
    """
    UPDATE policy.budget_usage AS u SET usd = u.usd + :usd, tokens = u.tokens + :tokens
      FROM unnest(CAST(:agents AS text[]), CAST(:periods AS text[]),
                  CAST(:starts AS date[])) AS c(agent_id, period, period_start)
     WHERE u.agency = :agency AND u.agent_id = c.agent_id AND u.period = c.period
       AND u.period_start = c.period_start
    RETURNING u.agent_id, u.period, u.usd - :usd AS usd_before, u.usd AS usd_after,
              u.tokens - :tokens AS tokens_before, u.tokens AS tokens_after
    """
)

_CLAIM = text(
    """
    INSERT INTO policy.budget_alerts AS b
        (agency, agent_id, period, period_start, unit, threshold, decision_id,
         used_before, used_after, "limit")
    SELECT :agency, a, p, s, un, t, :decision_id, ub, ua, l
      FROM unnest(CAST(:agents AS text[]), CAST(:periods AS text[]), CAST(:starts AS date[]),
                  CAST(:units AS text[]), CAST(:thresholds AS numeric[]),
                  CAST(:before AS numeric[]), CAST(:after AS numeric[]),
                  CAST(:limits AS numeric[])) AS c(a, p, s, un, t, ub, ua, l)
    ON CONFLICT DO NOTHING
    RETURNING b.agent_id, b.period, b.unit, b.threshold
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


def _changes(rows: Result[Any]) -> list[Change]:
    return [
        Change(
            r.agent_id,
            r.period,
            Decimal(r.usd_before),
            Decimal(r.usd_after),
            int(r.tokens_before),
            int(r.tokens_after),
        )
        for r in rows
    ]


async def reserve(
    session: AsyncSession,
    agency: str,
    counters: Sequence[Counter],
    usd: Decimal,
    tokens: int,
) -> tuple[set[tuple[str, str]], list[Change]]:
    """Add to every counter or to none: (the counters that refused, what it did to each)."""
    if not counters:
        return set(), []
    arrays = _arrays(counters)
    await session.execute(_ENSURE, {"agency": agency, **arrays})
    async with session.begin_nested() as savepoint:
        rows = await session.execute(
            _RESERVE, {"agency": agency, "usd": usd, "tokens": tokens, **arrays}
        )
        changes = _changes(rows)
        refused = {(c.agent_id, c.period) for c in counters} - {
            (u.agent_id, u.period) for u in changes
        }
        if refused:
            await savepoint.rollback()
            return refused, []
    return refused, changes


async def add_usage(
    session: AsyncSession, agency: str, counters: Sequence[Counter], usd: Decimal, tokens: int
) -> list[Change]:
    """Unconditional adjustment (settlement of actual usage; may be negative)."""
    arrays = _arrays(counters)
    await session.execute(_ENSURE, {"agency": agency, **arrays})
    rows = await session.execute(
        _ADD,
        {
            "agency": agency,
            "usd": usd,
            "tokens": tokens,
            "agents": arrays["agents"],
            "periods": arrays["periods"],
            "starts": arrays["starts"],
        },
    )
    return _changes(rows)


async def claim_alerts(
    session: AsyncSession, agency: str, decision_id: str, claims: Sequence[AlertClaim]
) -> set[tuple[str, str, str, Decimal]]:
    """Record each crossing unless its window has it already: the (agent, period, unit,
    threshold) of those that are new — the ones whose alert this transaction emits."""
    if not claims:
        return set()
    rows = await session.execute(
        _CLAIM,
        {
            "agency": agency,
            "decision_id": decision_id,
            "agents": [c.agent_id for c in claims],
            "periods": [c.period for c in claims],
            "starts": [c.period_start for c in claims],
            "units": [c.unit for c in claims],
            "thresholds": [c.threshold for c in claims],
            "before": [c.used_before for c in claims],
            "after": [c.used_after for c in claims],
            "limits": [c.limit for c in claims],
        },
    )
    return {(r.agent_id, r.period, r.unit, Decimal(r.threshold)) for r in rows}


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
) -> Reserved | None:
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
    if row is None:
        return None
    return Reserved(
        row["agent_id"],
        row["day"],
        row["month"],
        Decimal(row["reserved_usd"]),
        int(row["reserved_tokens"]),
    )
