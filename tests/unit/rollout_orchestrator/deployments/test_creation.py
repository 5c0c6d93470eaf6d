"""Pure parts of creating a run: the plan request, the change kind, the evaluation request the
policy engine accepts (its own schema), and the plan hash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policy_engine.deployments.schemas import DeploymentPlanRequest
from rollout_orchestrator.deployments.creation import (
    change_kind,
    evaluation_request,
    parse_plan,
    plan_hash,
)
from rollout_orchestrator.errors import InvalidPlan


def body(**extra: Any) -> dict[str, Any]:
    return {
        "service": "support-bot",
        "environment": "production",
        "targets": {"selector": {"team": "payments"}},
        "change": {"revision": "rev-2", "model": "gpt-4.1-mini"},
        "strategy": {"max_batch_size": 10},
        **extra,
    }


def test_theevaluation_request_is_one_the_policy_engine_accepts() -> None:
    plan = parse_plan(body(team="payments"))
    request = evaluation_request(
        plan, "run-1", [["a", "b"], ["c"]], datetime(2026, 12, 6, tzinfo=UTC)
    )
    parsed = DeploymentPlanRequest.model_validate(request)
    assert (parsed.target_agents, parsed.batch_size, parsed.change_kind) == (3, 2, "model")
    assert parsed.model == "gpt-4.1-mini"


def test_the_change_kind_is_model_prompt_or_config() -> None:
    assert change_kind(parse_plan(body())) == "model"
    prompt = body(change={"revision": "r", "prompt_revision": "p"})
    assert change_kind(parse_plan(prompt)) == "prompt"
    config = body(change={"revision": "r", "config_patch": {"t": 1}})
    assert change_kind(parse_plan(config)) == "config"


def test_a_bad_plan_names_each_location() -> None:
    with pytest.raises(InvalidPlan) as caught:
        parse_plan(body(watchdog={"on_stuck": "explode"}, overrides=[{"limit": "nope"}]))
    locations = [e["loc"] for e in caught.value.extra["errors"]]
    assert ["watchdog", "on_stuck"] in locations
    assert ["overrides", 0, "limit"] in locations


def test_the_plan_hash_ignores_key_order() -> None:
    one = parse_plan(body()).model_dump(mode="json")
    two = dict(reversed(list(one.items())))
    assert plan_hash(one) == plan_hash(two)
