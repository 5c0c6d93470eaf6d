"""The deployment-plan endpoint's request → domain mapping, verdicts and answer (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from policy_engine.deployments.schemas import DeploymentEvaluation, DeploymentPlanRequest
from policy_engine.deployments.service import VERDICTS, evaluate, plan_input, verdict_of
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.evaluation.cache import PolicyCache
from tests.unit.policy_engine.builders import NOW, compiled

LIMITS = {
    "max_agents_per_batch": 20,
    "max_config_changes": 5,
    "approval_above_risk": 0.6,
    "approval": {"roles": ["platform-lead"], "quorum": 2, "expires_in": "2h"},
    "freeze_windows": [
        {
            "start": "2026-12-21T00:00:00Z",
            "end": "2027-01-04T00:00:00Z",
            "reason": "year-end freeze",
            "environments": ["prod*"],
        }
    ],
}


def request(**fields: Any) -> DeploymentPlanRequest:
    values: dict[str, Any] = {
        "service": "support-bot",
        "environment": "staging",
        "target_agents": 100,
        "batch_size": 10,
        "config_changes": 2,
    }
    return DeploymentPlanRequest.model_validate(values | fields)


def cache_of(policies: dict[tuple[str, str | None], CompiledPolicy]) -> PolicyCache:
    async def load(agency: str, team: str | None) -> tuple[CompiledPolicy, str] | None:
        found = policies.get((agency, team))
        return (found, f"{agency}:1") if found is not None else None

    return PolicyCache(load)


def test_request_maps_every_field_onto_the_domain_plan() -> None:
    at = datetime(2026, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    body = request(
        team="payments",
        deployment_id="dep-7",
        change_kind="model",
        model="gpt-4o",
        labels={"tier": "gold"},
        recent_change_failure_rate=0.25,
        risk_score=0.4,
        at=at,
        context={"ticket": "T-1"},
    )
    plan = plan_input("acme", body, NOW)
    assert (plan.agency, plan.service, plan.environment) == ("acme", "support-bot", "staging")
    assert (plan.target_agents, plan.batch_size, plan.config_changes) == (100, 10, 2)
    assert (plan.team, plan.deployment_id, plan.change_kind, plan.model) == (
        "payments",
        "dep-7",
        "model",
        "gpt-4o",
    )
    assert dict(plan.labels) == {"tier": "gold"}
    assert (plan.recent_change_failure_rate, plan.risk_score) == (0.25, 0.4)
    assert dict(plan.extra) == {"ticket": "T-1"}
    assert plan.now == at
    assert plan.now.tzinfo is UTC


def test_the_plan_defaults_to_now_and_config_changes() -> None:
    plan = plan_input("acme", request(), NOW)
    assert plan.now == NOW
    assert (plan.change_kind, plan.team, plan.risk_score, plan.model) == (
        "config",
        None,
        None,
        None,
    )


def test_verdicts_map_every_domain_decision() -> None:
    assert VERDICTS == {"allow": "pass", "deny": "fail", "require_approval": "needs_approval"}
    assert verdict_of("deny") == "fail"


@pytest.mark.parametrize(
    "fields",
    [
        {"batch_size": -1},
        {"target_agents": "many"},
        {"at": "2026-05-01T09:30:00"},  # no offset: freeze windows need an instant
        {"recent_change_failure_rate": 1.5},
        {"change_kind": "CONFIG"},
        {"team": "Payments"},
        {"agency": "other"},  # the agency is the caller's, never the body's
    ],
)
def test_bad_plans_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        request(**fields)


async def test_a_plan_within_limits_passes_with_the_limits() -> None:
    answer = DeploymentEvaluation.of(
        await evaluate(
            cache_of({("acme", None): compiled({"deployments": LIMITS})}), "acme", request()
        )
    )
    assert (answer.verdict, answer.reasons, answer.approval) == ("pass", [], None)
    assert answer.limits is not None
    assert (answer.limits.max_agents_per_batch, answer.limits.max_config_changes) == (20, 5)
    assert answer.limits.approval_above_risk == 0.6
    assert answer.policy_version == "acme:1"


async def test_a_batch_over_the_limit_fails_naming_actual_and_limit() -> None:
    cache = cache_of({("acme", None): compiled({"deployments": LIMITS})})
    answer = DeploymentEvaluation.of(await evaluate(cache, "acme", request(batch_size=30)))
    [reason] = answer.reasons
    assert answer.verdict == "fail"
    assert (reason.code, reason.actual, reason.limit) == ("batch_too_large", 30, 20)
    assert reason.rule_id == "deployments.max_agents_per_batch"
    assert reason.layer == "org"
    assert reason.remediation


async def test_a_freeze_window_fails_at_the_requested_time_only() -> None:
    cache = cache_of({("acme", None): compiled({"deployments": LIMITS})})
    frozen = request(
        environment="production", at=datetime(2026, 12, 24, tzinfo=UTC), target_agents=10
    )
    answer = DeploymentEvaluation.of(await evaluate(cache, "acme", frozen, NOW))
    assert answer.verdict == "fail"
    assert [r.code for r in answer.reasons] == ["freeze_window"]
    after = request(environment="production", at=datetime(2027, 1, 5, tzinfo=UTC), target_agents=10)
    assert (await evaluate(cache, "acme", after, NOW)).verdict == "pass"


async def test_risk_above_the_threshold_needs_the_policys_approval() -> None:
    cache = cache_of({("acme", None): compiled({"deployments": LIMITS})})
    answer = DeploymentEvaluation.of(await evaluate(cache, "acme", request(risk_score=0.9)))
    assert answer.verdict == "needs_approval"
    assert answer.risk_score == 0.9
    assert answer.approval is not None
    assert (answer.approval.roles, answer.approval.quorum, answer.approval.expires_in_s) == (
        ["platform-lead"],
        2,
        7200,
    )


async def test_no_policy_fails_closed_and_another_agencys_policy_is_never_used() -> None:
    cache = cache_of({("acme", None): compiled({"deployments": LIMITS})})
    answer = DeploymentEvaluation.of(await evaluate(cache, "globex", request(batch_size=30)))
    assert (answer.verdict, answer.limits, answer.policy_version) == ("fail", None, "none")
    [reason] = answer.reasons
    assert reason.code == "no_policy"
    assert "globex" in reason.message


async def test_the_teams_overlay_is_read_for_a_team_plan() -> None:
    team = compiled({"deployments": LIMITS}, {}, {"deployments": {"max_agents_per_batch": 5}})
    cache = cache_of(
        {("acme", None): compiled({"deployments": LIMITS}), ("acme", "payments"): team}
    )
    assert (await evaluate(cache, "acme", request(batch_size=10))).verdict == "pass"
    answer = await evaluate(cache, "acme", request(batch_size=10, team="payments"))
    assert answer.verdict == "fail"
    assert [(r.actual, r.limit) for r in answer.result.reasons] == [(10, 5)]
