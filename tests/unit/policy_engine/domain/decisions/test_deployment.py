from datetime import UTC, datetime
from typing import Any

import pytest

from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.decision import DecisionResult
from policy_engine.domain.decisions.deployment import DeploymentPlanInput
from policy_engine.domain.decisions.evaluator import evaluate_deployment
from tests.unit.policy_engine.builders import NOW, compiled, rule

FREEZE = {
    "start": "2026-12-21T00:00:00Z",
    "end": "2027-01-04T00:00:00Z",
    "reason": "year-end freeze",
    "environments": ["prod*"],
}


def plan(policy: CompiledPolicy, **fields: Any) -> DecisionResult:
    values: dict[str, Any] = {
        "agency": "acme",
        "service": "support-bot",
        "environment": "staging",
        "target_agents": 100,
        "batch_size": 10,
        "config_changes": 2,
        "now": NOW,
    }
    values.update(fields)
    return evaluate_deployment(policy, DeploymentPlanInput(**values))


def codes(result: DecisionResult) -> list[str]:
    return [reason.code for reason in result.reasons]


def test_plan_within_limits_passes() -> None:
    policy = compiled({"deployments": {"max_agents_per_batch": 50, "max_config_changes": 5}})
    result = plan(policy)
    assert (result.decision, result.reasons) == ("allow", ())


def test_batch_too_large_is_denied_with_the_batch_size_that_fits() -> None:
    result = plan(compiled({"deployments": {"max_agents_per_batch": 50}}), batch_size=80)
    [reason] = result.reasons
    assert (reason.code, reason.actual, reason.limit) == ("batch_too_large", 80, 50)
    assert reason.counterfactual == "split into batches of ≤ 50"


def test_too_many_config_changes_is_denied() -> None:
    result = plan(compiled({"deployments": {"max_config_changes": 5}}), config_changes=6)
    [reason] = result.reasons
    assert (reason.code, reason.actual, reason.limit) == ("too_many_config_changes", 6, 5)
    assert reason.counterfactual == "split into deployments of ≤ 5 config changes"


def test_freeze_window_blocks_matching_environments_while_active() -> None:
    policy = compiled({"deployments": {"freeze_windows": [FREEZE]}})
    inside = datetime(2026, 12, 24, tzinfo=UTC)
    result = plan(policy, environment="production", now=inside)
    [reason] = result.reasons
    assert (result.decision, reason.code) == ("deny", "freeze_window")
    assert reason.counterfactual == "wait until 2027-01-04T00:00:00Z"
    assert "year-end freeze" in reason.message
    assert plan(policy, environment="staging", now=inside).decision == "allow"
    assert (
        plan(policy, environment="prod", now=datetime(2027, 1, 4, tzinfo=UTC)).decision == "allow"
    )
    assert (
        plan(policy, environment="prod", now=datetime(2026, 12, 20, tzinfo=UTC)).decision == "allow"
    )


def test_break_glass_freeze_needs_approval() -> None:
    window = {**FREEZE, "effect": "require_approval", "environments": None}
    policy = compiled({"deployments": {"freeze_windows": [window], "approval": {"roles": ["sre"]}}})
    result = plan(policy, now=datetime(2026, 12, 24, tzinfo=UTC))
    assert result.decision == "require_approval"
    assert result.approval is not None
    assert result.approval.roles == ("sre",)


def test_risky_plan_needs_approval() -> None:
    policy = compiled(
        {
            "deployments": {
                "approval_above_risk": 0.5,
                "approval": {"roles": ["platform-lead"], "quorum": 2},
            }
        }
    )
    safe = plan(policy, environment="dev", target_agents=10, batch_size=1)
    assert safe.decision == "allow"
    risky = plan(
        policy, environment="production", target_agents=1000, batch_size=500, change_kind="model"
    )
    assert risky.decision == "require_approval"
    [reason] = risky.reasons
    assert reason.code == "risk_above_threshold"
    assert reason.limit == 0.5
    assert isinstance(reason.actual, float)
    assert reason.actual > 0.5
    assert risky.approval is not None
    assert (risky.approval.roles, risky.approval.quorum) == (("platform-lead",), 2)


def test_declared_risk_can_only_raise_the_score() -> None:
    policy = compiled({"deployments": {"approval_above_risk": 0.5}})
    assert plan(policy, environment="dev", risk_score=0.9).decision == "require_approval"
    low = plan(
        policy, environment="production", target_agents=1000, batch_size=1000, risk_score=0.0
    )
    assert low.risk_score > 0.5


def test_every_plan_violation_is_listed() -> None:
    policy = compiled(
        {
            "models": {"deny": ["*-preview"]},
            "deployments": {
                "max_agents_per_batch": 10,
                "max_config_changes": 1,
                "freeze_windows": [{**FREEZE, "start": "2026-03-01T00:00:00Z"}],
                "approval_above_risk": 0.1,
            },
        }
    )
    result = plan(
        policy, environment="prod", batch_size=20, config_changes=3, model="gpt-5-preview"
    )
    assert codes(result) == [
        "batch_too_large",
        "too_many_config_changes",
        "freeze_window",
        "model_denied",
        "risk_above_threshold",
    ]
    assert result.decision == "deny"


def test_rules_apply_to_plans_as_deploy_actions() -> None:
    policy = compiled(
        {
            "rules": [
                rule(
                    "prod-prompt-changes",
                    match={"actions": ["deploy"], "resources": ["*/production"]},
                    condition="request.change_kind == 'prompt' && request.target_agents > 100",
                    effect="require_approval",
                )
            ]
        }
    )
    hit = {"environment": "production", "change_kind": "prompt", "target_agents": 500}
    assert plan(policy, **hit).decision == "require_approval"
    assert plan(policy, **{**hit, "environment": "staging"}).decision == "allow"
    assert plan(policy, **{**hit, "target_agents": 50}).decision == "allow"


def test_plan_rule_errors_fail_closed() -> None:
    policy = compiled(
        {"rules": [rule(match={"actions": ["deploy"]}, condition="request.ticket != ''")]}
    )
    result = plan(policy)
    assert result.decision == "deny"
    assert result.reasons[0].code == "policy_evaluation_error"


def test_deployment_settings_expose_health_gates_with_defaults() -> None:
    policy = compiled(
        {"deployments": {"health_gates": {"max_error_rate": 0.01}}},
        {"deployments": {"health_gates": {"max_error_rate": 0.02, "bake_time_s": 600}}},
    )
    settings = policy.deployment.to_dict()
    assert settings["health_gates"] == {
        "max_error_rate": 0.01,
        "max_latency_p99_ms": 2000.0,
        "min_healthy_fraction": 0.9,
        "bake_time_s": 600,
    }
    assert settings["rollback_triggers"] == {"error_rate_above": 0.1, "on_policy_violation": True}


def test_plans_need_a_timezone_aware_clock_and_sane_sizes() -> None:
    with pytest.raises(ValueError, match="timezone"):
        DeploymentPlanInput("a", "s", "prod", 1, 1, 0, now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="negative"):
        DeploymentPlanInput("a", "s", "prod", 1, -1, 0, now=NOW)
