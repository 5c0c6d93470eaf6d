"""Properties of plan_batches over any fleet and strategy (hypothesis): deterministic,
independent of the fleet's order, every target exactly once, no batch over the maximum."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_orchestrator.domain.batching import FleetAgent, plan_batches, targets_of
from rollout_orchestrator.domain.plan import DeploymentPlan, resolve_size
from rollout_orchestrator.domain.selector import matches

TEAMS = ("payments", "search", "ads")
TIERS = ("canary", "main")

agent_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
fleets = st.lists(
    st.builds(
        lambda i, team, tier: FleetAgent(i, {"team": team, "tier": tier}),
        agent_ids,
        st.sampled_from(TEAMS),
        st.sampled_from(TIERS),
    ),
    max_size=60,
    unique_by=lambda a: a.id,
)
sizes = st.one_of(st.integers(1, 20), st.integers(1, 100).map(lambda p: f"{p}%"))
strategies = st.one_of(
    st.builds(lambda m: {"max_batch_size": m}, st.integers(1, 25)),
    st.builds(lambda b: {"batches": b}, st.lists(sizes, min_size=1, max_size=6)),
    st.builds(
        lambda m, b: {"max_batch_size": m, "batches": b},
        st.integers(1, 25),
        st.lists(sizes, min_size=1, max_size=6),
    ),
)
selectors = st.dictionaries(
    st.sampled_from(("team", "tier")), st.sampled_from(TEAMS + TIERS), max_size=2
)


def plan(strategy: dict[str, Any], selector: dict[str, str], seed: str | None) -> DeploymentPlan:
    return DeploymentPlan.model_validate(
        {
            "targets": {"selector": selector},
            "change": {"revision": "rev-2", "prompt_revision": "p-7"},
            "strategy": strategy,
            "seed": seed,
        }
    )


plans = st.builds(
    plan, strategies, selectors, st.one_of(st.none(), st.text(min_size=1, max_size=50))
)


@settings(max_examples=300)
@given(plans, fleets, st.randoms(use_true_random=False))
def test_the_same_plan_and_fleet_in_any_order_give_the_same_batches(
    p: DeploymentPlan, fleet: list[FleetAgent], random: Any
) -> None:
    shuffled = list(fleet)
    random.shuffle(shuffled)
    assert plan_batches(p, fleet) == plan_batches(p, shuffled)
    assert plan_batches(p, fleet) == plan_batches(p.model_copy(), list(reversed(fleet)))


@settings(max_examples=300)
@given(plans, fleets)
def test_every_target_is_in_exactly_one_batch_and_nothing_else_is(
    p: DeploymentPlan, fleet: list[FleetAgent]
) -> None:
    batches = plan_batches(p, fleet)
    flat = [agent_id for batch in batches for agent_id in batch]
    selector = p.targets.selector or {}
    expected = {a.id for a in fleet if matches(selector, a.labels)}
    assert len(flat) == len(set(flat))
    assert set(flat) == expected


@settings(max_examples=300)
@given(plans, fleets)
def test_no_batch_is_empty_or_over_the_maximum(p: DeploymentPlan, fleet: list[FleetAgent]) -> None:
    batches = plan_batches(p, fleet)
    assert all(batches)
    cap = p.strategy.max_batch_size
    if cap is not None:
        assert all(len(batch) <= cap for batch in batches)


@settings(max_examples=300)
@given(plans, fleets)
def test_explicit_batches_come_first_with_their_sizes(
    p: DeploymentPlan, fleet: list[FleetAgent]
) -> None:
    batches = plan_batches(p, fleet)
    total = len(targets_of(p, fleet))
    cap = p.strategy.max_batch_size or total
    left = total
    for size, batch in zip(p.strategy.batches or (), batches, strict=False):
        assert len(batch) == min(resolve_size(size, total), cap, left)
        left -= len(batch)


@given(fleets, st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_the_order_depends_on_the_seed_only_through_a_stable_hash(
    fleet: list[FleetAgent], seed_a: str, seed_b: str
) -> None:
    a, b = plan({"max_batch_size": 1}, {}, seed_a), plan({"max_batch_size": 1}, {}, seed_b)
    assert sorted(x for [x] in plan_batches(a, fleet)) == sorted(
        x for [x] in plan_batches(b, fleet)
    )
    if seed_a == seed_b:
        assert plan_batches(a, fleet) == plan_batches(b, fleet)
