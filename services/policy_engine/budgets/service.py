"""Budgets: usage snapshots for the evaluator, atomic reservations, settlement of actual usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.errors import NotFound
from policy_engine.budgets import repository
from policy_engine.budgets.repository import Counter, Usage
from policy_engine.domain.compiler import BudgetLimit
from policy_engine.domain.evaluator import BudgetUsage

BUDGET_USED = Gauge(
    "cortex_policy_budget_used",
    "Agency-wide budget used in the current window (reservations and settled usage).",
    ["agency", "period", "unit"],
)
BUDGET_LIMIT = Gauge(
    "cortex_policy_budget_limit",
    "Agency-wide hard budget limit of the current window.",
    ["agency", "period", "unit"],
)
_PERIOD = {"daily": "day", "monthly": "month"}


def windows(now: datetime) -> tuple[date, date]:
    day = now.date()
    return day, day.replace(day=1)


def counters(limits: Sequence[BudgetLimit], agent_id: str, now: datetime) -> list[Counter]:
    """One counter per (scope, period) that has a limit in usd and/or tokens."""
    day, month = windows(now)
    caps: dict[tuple[str, str], dict[str, float]] = {}
    for limit in limits:
        caps.setdefault((limit.scope, limit.period), {})[limit.unit] = limit.limit
    return [
        Counter(
            agent_id="" if scope == "agency" else agent_id,
            period=_PERIOD[period],
            period_start=day if period == "daily" else month,
            max_usd=Decimal(str(unit["usd"])) if "usd" in unit else None,
            max_tokens=int(unit["tokens"]) if "tokens" in unit else None,
        )
        for (scope, period), unit in caps.items()
    ]


async def usage(session: AsyncSession, agency: str, agent_id: str, now: datetime) -> BudgetUsage:
    day, month = windows(now)
    values: dict[str, float | int] = {}
    for row in await repository.usage(session, agency, agent_id, day, month):
        scope = "agency" if row.agent_id == "" else "agent"
        period = "daily" if row.period == "day" else "monthly"
        values[f"{scope}_{period}_usd"] = float(row.usd)
        values[f"{scope}_{period}_tokens"] = int(row.tokens)
    return BudgetUsage(**values)  # type: ignore[arg-type]


def _export(agency: str, limits: Sequence[BudgetLimit], used: BudgetUsage) -> None:
    for limit in limits:
        if limit.scope == "agency":
            labels = (agency, limit.period, limit.unit)
            BUDGET_LIMIT.labels(*labels).set(limit.limit)
            BUDGET_USED.labels(*labels).set(getattr(used, limit.usage_field))


async def reserve(
    session: AsyncSession,
    *,
    agency: str,
    agent_id: str,
    decision_id: str,
    limits: Sequence[BudgetLimit],
    usd: float,
    tokens: int,
    now: datetime,
) -> bool:
    """Reserve the estimate on every window or none; False when a hard limit would be passed."""
    windows_ = counters(limits, agent_id, now)
    refused, totals = await repository.reserve(session, agency, windows_, Decimal(str(usd)), tokens)
    if refused:
        return False
    _export_totals(agency, limits, totals)
    day, month = windows(now)
    await repository.insert_reservation(
        session,
        decision_id=decision_id,
        agency=agency,
        agent_id=agent_id,
        day=day,
        month=month,
        reserved_usd=Decimal(str(usd)),
        reserved_tokens=tokens,
    )
    return True


def _export_totals(agency: str, limits: Sequence[BudgetLimit], totals: Sequence[Usage]) -> None:
    """Agency-wide gauges from the totals the reservation itself returned (no extra query)."""
    by_period = {u.period: u for u in totals if u.agent_id == ""}
    for limit in limits:
        total = by_period.get(_PERIOD[limit.period])
        if limit.scope == "agency" and total is not None:
            labels = (agency, limit.period, limit.unit)
            BUDGET_LIMIT.labels(*labels).set(limit.limit)
            BUDGET_USED.labels(*labels).set(
                float(total.usd) if limit.unit == "usd" else total.tokens
            )


async def settle(
    session: AsyncSession,
    *,
    agency: str,
    decision_id: str,
    usd: float,
    tokens: int,
    limits: Sequence[BudgetLimit],
    now: datetime,
) -> dict[str, object]:
    """Replace a reservation by the actual usage (counters move by the difference)."""
    row = await repository.settle_reservation(
        session, agency, decision_id, Decimal(str(usd)), tokens
    )
    if row is None:
        raise NotFound(
            f"No open budget reservation for decision {decision_id!r}.",
            remediation="Report usage once, for a decision of your agency that reserved budget "
            "(an allowed action with an estimated cost).",
            code="reservation_not_found",
        )
    agent_id = str(row["agent_id"])
    delta_usd = Decimal(str(usd)) - Decimal(str(row["reserved_usd"]))
    delta_tokens = tokens - int(str(row["reserved_tokens"]))
    # The windows of the reservation's day, even if settled after midnight.
    reserved_at = datetime.combine(row["day"], now.timetz())  # type: ignore[arg-type]
    await repository.add_usage(
        session, agency, counters(limits, agent_id, reserved_at), delta_usd, delta_tokens
    )
    _export(agency, limits, await usage(session, agency, agent_id, now))
    return {
        "decision_id": decision_id,
        "reserved_usd": float(str(row["reserved_usd"])),
        "actual_usd": usd,
        "reserved_tokens": int(str(row["reserved_tokens"])),
        "actual_tokens": tokens,
    }
