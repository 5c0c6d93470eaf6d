"""Budget arithmetic: money in ``Decimal`` (exact to the cent), crossings of alert thresholds.

Usage and limits reach the evaluator as floats (CEL reads them); every comparison and every
amount a reason shows is computed on their decimal values instead, so that $9.90 spent of
$10.00 leaves exactly $0.10 (in binary floating point it leaves 0.0999…, shown as $0.09).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from policy_engine.domain.decisions.compiler import BudgetLimit
from policy_engine.domain.decisions.decision import BudgetAlert
from policy_engine.domain.document.limits import BudgetPeriod, BudgetScopeName, BudgetUnit

Amount = Decimal | float | int
CENT = Decimal("0.01")
_ZERO = Decimal(0)


def exact(value: Amount) -> Decimal:
    """The decimal a float stands for: ``str`` gives the shortest decimal that reads back as
    the same float (0.1 → 0.1, not 0.1000000000000000055…)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def exceeds(spent: Amount, amount: Amount, limit: Amount) -> bool:
    """Whether ``spent + amount`` is above ``limit`` (equal to it still fits)."""
    return exact(spent) + exact(amount) > exact(limit)


def headroom(unit: BudgetUnit, limit: Amount, spent: Amount) -> Decimal:
    """What is left of ``limit`` after ``spent``, never negative: whole cents (rounded down, so
    that it fits) for usd, whole tokens for tokens."""
    left = max(exact(limit) - exact(spent), _ZERO)
    step = CENT if unit == "usd" else Decimal(1)
    return left.quantize(step, rounding=ROUND_FLOOR)


def mark(threshold: Amount, limit: Amount) -> Decimal:
    """Where an alert threshold (a fraction) lies on a limit."""
    return exact(threshold) * exact(limit)


def thresholds_crossed(
    thresholds: Sequence[float], limit: Amount, before: Amount, after: Amount
) -> list[float]:
    """The thresholds whose mark lies in ``(before, after]``: those the move crosses."""
    low, high = exact(before), exact(after)
    return [t for t in thresholds if low < mark(t, limit) <= high]


@dataclass(frozen=True, slots=True)
class WindowChange:
    """What one atomic update did to one budget window: its totals before and after."""

    scope: BudgetScopeName
    period: BudgetPeriod
    usd_before: Decimal
    usd_after: Decimal
    tokens_before: int
    tokens_after: int

    def totals(self, unit: BudgetUnit) -> tuple[Decimal, Decimal]:
        if unit == "usd":
            return self.usd_before, self.usd_after
        return Decimal(self.tokens_before), Decimal(self.tokens_after)


def crossings(
    limits: Sequence[BudgetLimit], thresholds: Sequence[float], changes: Sequence[WindowChange]
) -> list[BudgetAlert]:
    """One alert per (limit, threshold) that ``changes`` cross, lowest threshold first."""
    by_window = {(c.scope, c.period): c for c in changes}
    alerts = []
    for limit in limits:
        change = by_window.get((limit.scope, limit.period))
        if change is None:
            continue
        before, after = change.totals(limit.unit)
        alerts += [
            BudgetAlert(
                limit.scope,
                limit.period,
                limit.unit,
                t,
                _number(limit.unit, before),
                _number(limit.unit, after),
                limit.limit,
            )
            for t in thresholds_crossed(thresholds, limit.limit, before, after)
        ]
    return alerts


def _number(unit: BudgetUnit, value: Decimal) -> float | int:
    return float(value) if unit == "usd" else int(value)
