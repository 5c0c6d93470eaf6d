"""Budgets: usage snapshots for the evaluator, atomic reservations and the alerts they cross,
settlement of actual usage."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import BudgetThresholdCrossed, pack, subject_for
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from cortex_kit.observability import inject_context
from policy_engine.budgets import repository
from policy_engine.budgets.repository import AlertClaim, Change, Counter
from policy_engine.domain.decisions.budget import WindowChange, crossings, exact
from policy_engine.domain.decisions.compiler import BudgetLimit
from policy_engine.domain.decisions.decision import BudgetAlert
from policy_engine.domain.decisions.inputs import BudgetUsage
from policy_engine.errors import ReservationNotFound
from policy_engine.models import messaging

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
_POLICY_PERIOD = {"day": "daily", "month": "monthly"}
SOURCE = "policy-engine"


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


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation's own view of the budget: the usage just before it (the decision's
    snapshot) and the alert thresholds it crossed and claimed (their events are staged)."""

    before: BudgetUsage
    alerts: tuple[BudgetAlert, ...]


async def reserve(
    session: AsyncSession,
    *,
    agency: str,
    agent_id: str,
    decision_id: str,
    limits: Sequence[BudgetLimit],
    thresholds: Sequence[float],
    usage: BudgetUsage,
    usd: float,
    tokens: int,
    now: datetime,
) -> Reservation | None:
    """Reserve the estimate on every window or none (None when a hard limit would be passed).

    The alert thresholds the reservation crosses are read from its own before/after totals and
    claimed once per window; the events of those it claims are staged in the outbox, in the
    caller's transaction."""
    windows_ = counters(limits, agent_id, now)
    refused, changes = await repository.reserve(session, agency, windows_, exact(usd), tokens)
    if refused:
        return None
    _export_totals(agency, limits, changes)
    day, month = windows(now)
    await repository.insert_reservation(
        session,
        decision_id=decision_id,
        agency=agency,
        agent_id=agent_id,
        day=day,
        month=month,
        reserved_usd=exact(usd),
        reserved_tokens=tokens,
    )
    found = crossings(limits, thresholds, [_window(c) for c in changes])
    alerts = await _claim(session, agency, agent_id, decision_id, found, windows_, now)
    return Reservation(_snapshot(usage, changes), alerts)


def _window(change: Change) -> WindowChange:
    return WindowChange(
        "agency" if change.agent_id == "" else "agent",
        "daily" if change.period == "day" else "monthly",
        change.usd_before,
        change.usd_after,
        change.tokens_before,
        change.tokens_after,
    )


def _snapshot(usage: BudgetUsage, changes: Sequence[Change]) -> BudgetUsage:
    """``usage`` with each reserved window's total as it was just before the reservation."""
    values: dict[str, float | int] = {}
    for c in changes:
        window = f"{'agency' if c.agent_id == '' else 'agent'}_{_POLICY_PERIOD[c.period]}"
        values[f"{window}_usd"] = float(c.usd_before)
        values[f"{window}_tokens"] = c.tokens_before
    return dataclasses.replace(usage, **values)  # type: ignore[arg-type]


async def _claim(
    session: AsyncSession,
    agency: str,
    agent_id: str,
    decision_id: str,
    found: Sequence[BudgetAlert],
    windows_: Sequence[Counter],
    now: datetime,
) -> tuple[BudgetAlert, ...]:
    """The crossings no earlier request of the window claimed; their events staged."""
    if not found:
        return ()
    starts = {(c.agent_id, c.period): c.period_start for c in windows_}
    claims = []
    for alert in found:
        owner = "" if alert.scope == "agency" else agent_id
        period = _PERIOD[alert.period]
        claims.append(
            AlertClaim(
                owner,
                period,
                starts[owner, period],
                alert.unit,
                exact(alert.threshold),
                exact(alert.used_before),
                exact(alert.used_after),
                exact(alert.limit),
            )
        )
    new = await repository.claim_alerts(session, agency, decision_id, claims)
    mine = tuple(
        alert
        for alert, c in zip(found, claims, strict=True)
        if (c.agent_id, c.period, c.unit, c.threshold) in new
    )
    events = [_alert_event(agency, agent_id, decision_id, alert, now) for alert in mine]
    await add_to_outbox(session, messaging.outbox, events)
    return mine


def _alert_event(
    agency: str, agent_id: str, decision_id: str, alert: BudgetAlert, now: datetime
) -> PendingEvent:
    payload = BudgetThresholdCrossed(
        agency=agency,
        agent_id="" if alert.scope == "agency" else agent_id,
        scope=alert.scope,
        period=alert.period,
        unit=alert.unit,
        threshold=alert.threshold,
        used=float(alert.used_after),
        limit=float(alert.limit),
        decision_id=decision_id,
    )
    envelope = pack(
        payload,
        agency=agency,
        source=SOURCE,
        occurred_at=now,
        trace_context=dict(inject_context({})),
    )
    return PendingEvent(subject_for(payload, agency), envelope)


def _export_totals(agency: str, limits: Sequence[BudgetLimit], totals: Sequence[Change]) -> None:
    """Agency-wide gauges from the totals the update itself returned (no extra query)."""
    by_period = {u.period: u for u in totals if u.agent_id == ""}
    for limit in limits:
        total = by_period.get(_PERIOD[limit.period])
        if limit.scope == "agency" and total is not None:
            labels = (agency, limit.period, limit.unit)
            BUDGET_LIMIT.labels(*labels).set(limit.limit)
            BUDGET_USED.labels(*labels).set(
                float(total.usd_after) if limit.unit == "usd" else total.tokens_after
            )


@dataclass(frozen=True, slots=True)
class Settlement:
    """A reservation replaced by the actual usage, and the alert thresholds that crossed."""

    budget_alerts: tuple[BudgetAlert, ...]
    decision_id: str
    reserved_usd: float
    actual_usd: float
    reserved_tokens: int
    actual_tokens: int


async def settle(
    session: AsyncSession,
    *,
    agency: str,
    decision_id: str,
    usd: float,
    tokens: int,
    limits: Sequence[BudgetLimit],
    now: datetime,
    thresholds: Sequence[float] = (),
) -> Settlement:
    """Replace a reservation by the actual usage (counters move by the difference). An actual
    cost above the estimate may cross alert thresholds: read from the settlement's own
    before/after totals and claimed once per window, like a reservation's."""
    row = await repository.settle_reservation(
        session, agency, decision_id, Decimal(str(usd)), tokens
    )
    if row is None:
        raise ReservationNotFound(
            f"No open budget reservation for decision {decision_id!r}.",
            remediation="Report usage once, for a decision of your agency that reserved budget "
            "(an allowed action with an estimated cost).",
        )
    agent_id = row.agent_id
    delta_usd = Decimal(str(usd)) - row.reserved_usd
    delta_tokens = tokens - row.reserved_tokens
    # The windows of the reservation's day, even if settled after midnight.
    reserved_at = datetime.combine(row.day, now.timetz())
    changes = await repository.add_usage(
        session, agency, counters(limits, agent_id, reserved_at), delta_usd, delta_tokens
    )
    if row.day == now.date():  # gauges show the current window only
        _export_totals(agency, limits, changes)
    windows_ = counters(limits, agent_id, reserved_at)
    found = crossings(limits, thresholds, [_window(c) for c in changes])
    alerts = await _claim(session, agency, agent_id, decision_id, found, windows_, now)
    return Settlement(
        budget_alerts=alerts,
        decision_id=decision_id,
        reserved_usd=float(row.reserved_usd),
        actual_usd=usd,
        reserved_tokens=row.reserved_tokens,
        actual_tokens=tokens,
    )
