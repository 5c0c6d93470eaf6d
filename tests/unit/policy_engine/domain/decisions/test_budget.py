"""Budget arithmetic in decimals: counterfactuals and limits exact to the cent; crossings."""

from __future__ import annotations

from decimal import Decimal

from policy_engine.domain.decisions.budget import (
    WindowChange,
    crossings,
    headroom,
    thresholds_crossed,
)
from policy_engine.domain.decisions.checks import with_budget_alerts
from tests.unit.policy_engine.builders import compiled, context, decide, single

DAILY_10 = {"budgets": {"agent": {"daily": {"usd": 10}}, "alert_thresholds": [0.5, 0.8, 0.95]}}


def test_headroom_is_exact_to_the_cent() -> None:
    assert headroom("usd", 10.0, 9.9) == Decimal("0.10")  # 10.0 - 9.9 == 0.0999… in floats
    assert headroom("usd", 10.0, 9.991) == Decimal("0.00")  # rounded down: what is left fits
    assert headroom("usd", 10.0, 12.0) == Decimal("0.00")
    assert headroom("tokens", 1000, 999.5) == Decimal(0)


def test_the_counterfactual_names_the_cost_that_exactly_fits() -> None:
    result = decide(
        compiled(DAILY_10), context(budget={"agent_daily_usd": 9.9}), estimated_cost_usd=0.2
    )
    assert single(result, "budget_exceeded").counterfactual == "reduce cost to ≤ $0.10"
    fits = decide(
        compiled(DAILY_10), context(budget={"agent_daily_usd": 9.9}), estimated_cost_usd=0.1
    )
    assert fits.decision == "allow"


def test_a_cost_that_takes_usage_exactly_to_the_limit_is_allowed() -> None:
    policy = compiled({"budgets": {"agent": {"daily": {"usd": 0.3}}}})
    result = decide(policy, context(budget={"agent_daily_usd": 0.2}), estimated_cost_usd=0.1)
    assert result.decision == "allow", result.reasons  # 0.2 + 0.1 > 0.3 in floats


def test_a_threshold_is_crossed_when_usage_reaches_its_mark_exactly() -> None:
    assert thresholds_crossed([0.7], 10, 6.5, 7.0) == [0.7]  # 0.7 * 10 == 7.000…1 in floats
    assert thresholds_crossed([0.7], 10, 7.0, 7.5) == []  # reached before: not crossed again


def test_a_reservation_crossing_several_thresholds_alerts_each_of_them() -> None:
    policy = compiled(DAILY_10)
    change = WindowChange("agent", "daily", Decimal("4.90"), Decimal("9.60"), 0, 10)
    alerts = crossings(policy.budgets, policy.alert_thresholds, [change])
    assert [(a.threshold, a.used_before, a.used_after) for a in alerts] == [
        (0.5, 4.9, 9.6),
        (0.8, 4.9, 9.6),
        (0.95, 4.9, 9.6),
    ]
    other = WindowChange("agency", "daily", Decimal(0), Decimal(10), 0, 0)
    assert crossings(policy.budgets, policy.alert_thresholds, [other]) == []


def test_a_decision_carries_the_alerts_of_its_reservation_not_of_its_snapshot() -> None:
    policy = compiled(DAILY_10)
    # evaluated on a stale snapshot (1.0 spent): no threshold crossed ...
    result = decide(policy, context(budget={"agent_daily_usd": 1.0}), estimated_cost_usd=3.5)
    assert result.budget_alerts == ()
    # ... but the reservation found 4.9 spent, and took it to 8.4: 50 % and 80 % crossed
    change = WindowChange("agent", "daily", Decimal("4.9"), Decimal("8.4"), 0, 0)
    alerts = crossings(policy.budgets, policy.alert_thresholds, [change])
    updated = with_budget_alerts(result, alerts, policy)
    assert [a.threshold for a in updated.budget_alerts] == [0.5, 0.8]
    reason = single(updated, "budget_threshold_crossed")
    assert reason.message.startswith("the agent daily usd budget passes 80% ($8.40")
    assert updated.decision == "allow"
