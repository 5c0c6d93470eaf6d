"""plan_batches and the plan schema on examples."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rollout_orchestrator.domain.batching import FleetAgent, UnknownTargets, plan_batches
from rollout_orchestrator.domain.plan import DeploymentPlan, resolve_size


def fleet(n: int, **labels: str) -> list[FleetAgent]:
    return [FleetAgent(f"agent-{i:03d}", dict(labels)) for i in range(n)]


def plan(**overrides: Any) -> DeploymentPlan:
    body: dict[str, Any] = {
        "targets": {"selector": {"team": "payments"}},
        "change": {"revision": "rev-2", "config_patch": {"temperature": 0.2}},
        "strategy": {"max_batch_size": 10},
        **overrides,
    }
    return DeploymentPlan.model_validate(body)


def test_max_batch_size_alone_splits_into_full_batches_and_a_rest() -> None:
    batches = plan_batches(plan(), fleet(25, team="payments"))
    assert [len(b) for b in batches] == [10, 10, 5]


def test_explicit_batches_then_the_rest_in_one_batch_without_a_maximum() -> None:
    p = plan(strategy={"batches": [1, "10%", "50%"]})
    assert [len(b) for b in plan_batches(p, fleet(40, team="payments"))] == [1, 4, 20, 15]


def test_explicit_batches_are_capped_and_the_rest_uses_the_maximum() -> None:
    p = plan(strategy={"batches": [2, "50%"], "max_batch_size": 5})
    assert [len(b) for b in plan_batches(p, fleet(20, team="payments"))] == [2, 5, 5, 5, 3]


def test_batches_stop_when_the_targets_run_out() -> None:
    p = plan(strategy={"batches": [3, 3, 3]})
    assert [len(b) for b in plan_batches(p, fleet(4, team="payments"))] == [3, 1]


def test_the_selector_picks_the_targets() -> None:
    agents = [*fleet(3, team="payments"), FleetAgent("other", {"team": "search"})]
    flat = [a for b in plan_batches(plan(), agents) for a in b]
    assert sorted(flat) == ["agent-000", "agent-001", "agent-002"]


def test_ids_pick_the_targets_and_unknown_ids_are_an_error() -> None:
    p = plan(targets={"ids": ["agent-001", "agent-002"]})
    assert sorted(a for b in plan_batches(p, fleet(5)) for a in b) == ["agent-001", "agent-002"]
    with pytest.raises(UnknownTargets) as raised:
        plan_batches(plan(targets={"ids": ["agent-001", "ghost"]}), fleet(5))
    assert raised.value.missing == ["ghost"]


def test_no_targets_no_batches() -> None:
    assert plan_batches(plan(), fleet(5, team="search")) == []


def test_a_fleet_listing_an_agent_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        plan_batches(plan(), [FleetAgent("a", {"team": "payments"})] * 2)


def test_the_seed_changes_the_order_but_not_the_members() -> None:
    agents = fleet(30, team="payments")
    a = plan_batches(plan(seed="one"), agents)
    b = plan_batches(plan(seed="two"), agents)
    assert a != b
    assert sorted(x for batch in a for x in batch) == sorted(x for batch in b for x in batch)


@pytest.mark.parametrize(
    ("size", "total", "expected"),
    [(3, 10, 3), ("10%", 10, 1), ("10%", 11, 2), ("1%", 5, 1), ("100%", 7, 7), ("50%", 0, 1)],
)
def test_percentages_round_up_to_at_least_one(size: int | str, total: int, expected: int) -> None:
    assert resolve_size(size, total) == expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"targets": {}},
        {"targets": {"selector": {"team": "x"}, "ids": ["a"]}},
        {"targets": {"ids": ["a", "a"]}},
        {"targets": {"selector": {"bad key!": "x"}}},
        {"change": {"revision": "rev-2"}},
        {"change": {"revision": "has space", "model": "m"}},
        {"strategy": {}},
        {"strategy": {"max_batch_size": 0}},
        {"strategy": {"batches": ["0%"]}},
        {"strategy": {"batches": ["150%"]}},
        {"strategy": {"batches": []}},
        {"strategy": {"max_batch_size": 5, "health_gate": {"min_healthy_ratio": 0}}},
        {"strategy": {"max_batch_size": 5, "health_gate": {"missing_data": "ignore"}}},
        {"on_failure": "retry"},
        {"surprise": True},
    ],
)
def test_invalid_plans_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        plan(**overrides)


def test_a_full_plan_parses_with_its_defaults() -> None:
    p = plan(
        strategy={
            "batches": [1, "25%"],
            "max_batch_size": 50,
            "pause_between_batches_s": 30,
            "health_gate": {"min_healthy_ratio": 0.9, "missing_data": "extend"},
        },
        on_failure="pause",
    )
    gate = p.strategy.health_gate
    assert (gate.min_healthy_ratio, gate.observation_s, gate.consecutive_failures) == (0.9, 60, 1)
    assert (gate.min_sample, gate.missing_data, gate.hold_limit_s) == (1, "extend", 600)
    assert p.on_failure == "pause"
    assert p.order_seed == "rev-2"
