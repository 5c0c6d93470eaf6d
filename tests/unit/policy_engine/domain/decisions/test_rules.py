"""Action rules, fail-closed evaluation and result format."""

from typing import Any

import pytest

from policy_engine.domain.decisions.evaluator import evaluate
from tests.unit.policy_engine.builders import (
    codes,
    compiled,
    context,
    decide,
    request,
    rule,
    single,
)

# action rules ------------------------------------------------------------------------------------


def test_rule_matches_on_action_resource_and_labels() -> None:
    policy = compiled(
        {
            "rules": [
                rule(
                    match={
                        "actions": ["db.drop", "db.truncate"],
                        "resources": ["prod/*"],
                        "labels": {"tier": "gold*"},
                    }
                )
            ]
        }
    )
    hit: dict[str, Any] = {
        "action_type": "db.drop",
        "resource": "prod/users",
        "labels": {"tier": "gold-1"},
    }
    assert decide(policy, **hit).decision == "deny"
    assert decide(policy, **{**hit, "action_type": "db.read"}).decision == "allow"
    assert decide(policy, **{**hit, "resource": "dev/users"}).decision == "allow"
    assert decide(policy, **{**hit, "labels": {"tier": "silver"}}).decision == "allow"
    assert decide(policy, **{**hit, "labels": {}}).decision == "allow"


def test_rule_condition_decides_whether_it_fires() -> None:
    policy = compiled({"rules": [rule(condition="request.rows > 1000")]})
    assert decide(policy, extra={"rows": 10}).decision == "allow"
    result = decide(policy, extra={"rows": 5000})
    reason = single(result, "rule_denied")
    assert (reason.rule_id, reason.message, reason.remediation) == ("r1", "r1 fired", "fix r1")
    assert reason.counterfactual == "change the request so that `request.rows > 1000` is false"


def test_require_approval_rule_carries_who_approves() -> None:
    policy = compiled(
        {
            "rules": [
                rule(
                    effect="require_approval",
                    approval={"roles": ["data-owner"], "quorum": 2, "expires_in": "4h"},
                )
            ]
        }
    )
    result = decide(policy)
    assert result.decision == "require_approval"
    assert single(result, "approval_required").severity == "medium"
    assert result.approval is not None
    assert (result.approval.roles, result.approval.quorum, result.approval.expires_in_s) == (
        ("data-owner",),
        2,
        4 * 3600,
    )


def test_approvals_merge_roles_max_quorum_and_min_expiry() -> None:
    policy = compiled(
        {
            "rules": [
                rule(
                    "a",
                    effect="require_approval",
                    approval={"roles": ["lead"], "quorum": 1, "expires_in": "1d"},
                ),
                rule(
                    "b",
                    effect="require_approval",
                    approval={"roles": ["sec", "lead"], "quorum": 3, "expires_in": "30m"},
                ),
                rule("c", effect="require_approval"),
            ]
        }
    )
    approval = decide(policy).approval
    assert approval is not None
    assert approval.roles == ("lead", "sec", "approver")
    assert (approval.quorum, approval.expires_in_s, approval.rule_ids) == (3, 1800, ("a", "b", "c"))


def test_deny_beats_require_approval() -> None:
    policy = compiled({"rules": [rule("a", effect="require_approval"), rule("b")]})
    result = decide(policy)
    assert result.decision == "deny"
    assert result.approval is None
    assert codes(result) == ["approval_required", "rule_denied"]


def test_every_violated_rule_is_listed_not_only_the_first() -> None:
    policy = compiled(
        {
            "models": {"allow": ["gpt-*"]},
            "autonomy": {"ceiling": "L1"},
            "data": {"max_class": "internal"},
            "pii": {"entities": {"SECRET": "deny"}},
            "budgets": {"agent": {"daily": {"usd": 1}}},
            "rules": [
                rule("a"),
                rule("b", condition="request.n > 1"),
                rule("c", match={"actions": ["fs.*"]}),
            ],
        }
    )
    result = decide(
        policy,
        context(pii_entities_found={"SECRET": 1}),
        model="llama",
        autonomy_level=4,
        data_class="restricted",
        estimated_cost_usd=5.0,
        extra={"n": 2},
    )
    assert codes(result) == [
        "model_not_allowed",
        "autonomy_above_ceiling",
        "data_class_not_allowed",
        "pii_denied",
        "budget_exceeded",
        "rule_denied",
        "rule_denied",
    ]
    assert [r.rule_id for r in result.reasons][-2:] == ["a", "b"]
    assert all(r.remediation and r.docs_url.endswith(r.code) for r in result.reasons)


def test_rules_of_every_layer_apply_with_their_provenance() -> None:
    policy = compiled({"rules": [rule("org-rule")]}, {"rules": [rule("agency-rule")]})
    result = decide(policy)
    assert [(r.rule_id, r.layer, r.policy, r.version) for r in result.reasons] == [
        ("org-rule", "org", "org-policy", 1),
        ("agency-rule", "agency", "agency-policy", 2),
    ]


def test_conditions_see_the_documented_variables() -> None:
    condition = (
        "action.type == 'db.read' && action.autonomy_level == 2 && action.model == 'gpt-4o'"
        " && resource.id == 'prod/customers' && resource.labels.env == 'prod'"
        " && agent.id == 'agent-1' && agent.agency == 'acme' && agent.team == 'core'"
        " && agent.recent_violations == 3 && request.ticket == 'T-1'"
        " && context.now.getHours() == 12 && context.pii.EMAIL == 1"
        " && context.budget.agent.daily.usd == 2.5 && context.payload_oversize == false"
    )
    policy = compiled({"rules": [rule(condition=condition)]})
    result = decide(
        policy,
        context(
            pii_entities_found={"EMAIL": 1}, recent_violations=3, budget={"agent_daily_usd": 2.5}
        ),
        autonomy_level=2,
        model="gpt-4o",
        team="core",
        labels={"env": "prod"},
        extra={"ticket": "T-1"},
    )
    assert codes(result) == ["pii_masked", "rule_denied"]


# fail closed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "extra", "detail"),
    [
        ("request.amount > 10.0", {}, "request.amount"),
        ("request.amount > 10", {"amount": "ten"}, "TypeError"),
        ("request.note", {"note": "not a bool"}, "not a bool"),
        ("agent.team == 'x'", {}, "agent.team"),
    ],
)
def test_a_rule_that_cannot_be_evaluated_denies(
    condition: str, extra: dict[str, Any], detail: str
) -> None:
    policy = compiled(
        {"rules": [rule("fragile", condition=condition), rule("fine", condition="false")]}
    )
    result = decide(policy, extra=extra)
    assert result.decision == "deny"
    reason = single(result, "policy_evaluation_error")
    assert (reason.rule_id, reason.severity, reason.layer) == ("fragile", "critical", "org")
    assert "could not be evaluated" in reason.message
    assert detail in reason.message
    assert reason.remediation


def test_other_rules_still_report_when_one_cannot_be_evaluated() -> None:
    policy = compiled(
        {
            "rules": [
                rule("fragile", condition="request.x > 1"),
                rule("approval", effect="require_approval"),
            ]
        }
    )
    assert codes(decide(policy)) == ["policy_evaluation_error", "approval_required"]


def test_values_cel_cannot_represent_fail_closed() -> None:
    policy = compiled({"rules": [rule(condition="request.blob == 'x'")]})
    result = decide(policy, extra={"blob": object()})
    assert result.decision == "deny"
    assert single(result, "policy_evaluation_error").rule_id == "r1"


def test_an_unexpected_error_denies_without_raising() -> None:
    policy = compiled({"budgets": {"agent": {"daily": {"usd": 1}}}})
    result = evaluate(policy, request(), context(budget=object()))
    assert result.decision == "deny"
    assert result.risk_score == 1.0
    [reason] = result.reasons
    assert reason.code == "policy_evaluation_error"
    assert "could not be evaluated" in reason.message


def test_bad_inputs_are_rejected_when_built() -> None:
    with pytest.raises(ValueError, match="autonomy_level"):
        request(autonomy_level=5)
    with pytest.raises(ValueError, match="data_class"):
        request(data_class="secret")
    with pytest.raises(ValueError, match="timezone"):
        context(now=context().now.replace(tzinfo=None))


# results ------------------------------------------------------------------------------------------


def test_result_serialises_to_json_types() -> None:
    policy = compiled({"rules": [rule(effect="require_approval")]})
    payload = decide(policy).to_dict()
    assert payload["decision"] == "require_approval"
    assert payload["approval"]["roles"] == ["approver"]
    assert set(payload["reasons"][0]) >= {
        "code",
        "severity",
        "message",
        "remediation",
        "docs_url",
        "rule_id",
        "policy",
        "version",
        "layer",
        "actual",
        "limit",
        "counterfactual",
    }
    assert 0.0 <= payload["risk_score"] <= 1.0
