from typing import Any

import pytest

from policy_engine.domain.decisions.compiler import compile_policy
from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.document.inheritance import Layer, check_overlay, merge
from policy_engine.domain.document.loader import Issue, parse_policy, parse_policy_located
from tests.unit.policy_engine.builders import EXAMPLES, context, document, layered, request, rule

PARENT: dict[str, Any] = {
    "models": {"allow": ["gpt-4o*", "claude-*"], "deny": ["*-preview"]},
    "autonomy": {"ceiling": "L3", "actions": {"deploy.*": "L2"}},
    "data": {"max_class": "confidential", "destinations": {"https://*": "internal"}},
    "pii": {
        "default": "mask",
        "entities": {"SECRET": "deny"},
        "max_payload_bytes": 10000,
        "on_oversize": "deny",
    },
    "budgets": {
        "agent": {"daily": {"usd": 20, "tokens": 1000}},
        "agency": {"monthly": {"usd": 500}},
    },
    "rules": [rule("org.no-drop")],
    "deployments": {
        "max_agents_per_batch": 50,
        "max_config_changes": 10,
        "approval_above_risk": 0.7,
        "approval": {"roles": ["lead"], "quorum": 2, "expires_in": "4h"},
        "health_gates": {
            "max_error_rate": 0.05,
            "max_latency_p99_ms": 800,
            "min_healthy_fraction": 0.9,
            "bake_time_s": 300,
        },
        "rollback_triggers": {"error_rate_above": 0.1, "on_policy_violation": True},
    },
}


def parent_policy() -> Any:
    return merge([Layer(document(PARENT), 4, "org")])


def overlay_issues(spec: dict[str, Any], **metadata: Any) -> list[Issue]:
    return check_overlay(parent_policy(), document(spec, layer="agency", **metadata))


def only(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, issues
    return issues[0]


def test_a_tightening_overlay_is_accepted() -> None:
    tighter = {
        "models": {"allow": ["gpt-4o-mini", "claude-3-5-*"], "deny": ["*-exp"]},
        "autonomy": {"ceiling": "L2", "actions": {"deploy.prod": "L1", "db.*": "L1"}},
        "data": {"max_class": "internal", "destinations": {"https://partner.*": "public"}},
        "pii": {"default": "deny", "entities": {"EMAIL": "deny"}, "max_payload_bytes": 5000},
        "budgets": {
            "agent": {"daily": {"usd": 5}, "monthly": {"usd": 50}},
            "alert_thresholds": [0.8],
        },
        "rules": [rule("agency.rule")],
        "deployments": {
            "max_agents_per_batch": 20,
            "approval_above_risk": 0.5,
            "approval": {"roles": ["sre"], "quorum": 3, "expires_in": "1h"},
            "freeze_windows": [
                {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z", "reason": "x"}
            ],
            "health_gates": {
                "max_error_rate": 0.01,
                "min_healthy_fraction": 0.95,
                "bake_time_s": 600,
            },
            "rollback_triggers": {"error_rate_above": 0.05, "on_policy_violation": True},
        },
    }
    assert overlay_issues(tighter) == []


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"autonomy": {"ceiling": "L4"}}, "spec.autonomy.ceiling"),
        ({"autonomy": {"actions": {"deploy.prod": "L3"}}}, 'spec.autonomy.actions["deploy.prod"]'),
        ({"autonomy": {"actions": {"db.*": "L4"}}}, 'spec.autonomy.actions["db.*"]'),
        ({"data": {"max_class": "restricted"}}, "spec.data.max_class"),
        (
            {"data": {"destinations": {"https://x.io/*": "confidential"}}},
            'spec.data.destinations["https://x.io/*"]',
        ),
        ({"data": {"models": {"gpt-*": "restricted"}}}, 'spec.data.models["gpt-*"]'),
        ({"pii": {"entities": {"SECRET": "mask"}}}, "spec.pii.entities.SECRET"),
        ({"pii": {"entities": {"EMAIL": "allow"}}}, "spec.pii.entities.EMAIL"),
        ({"pii": {"default": "allow"}}, "spec.pii.default"),
        ({"pii": {"max_payload_bytes": 20000}}, "spec.pii.max_payload_bytes"),
        ({"pii": {"on_oversize": "mask_all"}}, "spec.pii.on_oversize"),
        ({"budgets": {"agent": {"daily": {"usd": 21}}}}, "spec.budgets.agent.daily.usd"),
        ({"budgets": {"agent": {"daily": {"tokens": 5000}}}}, "spec.budgets.agent.daily.tokens"),
        ({"budgets": {"agency": {"monthly": {"usd": 501}}}}, "spec.budgets.agency.monthly.usd"),
        ({"deployments": {"max_agents_per_batch": 51}}, "spec.deployments.max_agents_per_batch"),
        ({"deployments": {"max_config_changes": 11}}, "spec.deployments.max_config_changes"),
        ({"deployments": {"approval_above_risk": 0.9}}, "spec.deployments.approval_above_risk"),
        (
            {"deployments": {"approval": {"roles": ["x"], "quorum": 1}}},
            "spec.deployments.approval.quorum",
        ),
        (
            {"deployments": {"approval": {"roles": ["x"], "quorum": 2, "expires_in": "1d"}}},
            "spec.deployments.approval.expires_in",
        ),
        (
            {"deployments": {"health_gates": {"max_error_rate": 0.2}}},
            "spec.deployments.health_gates.max_error_rate",
        ),
        (
            {"deployments": {"health_gates": {"max_latency_p99_ms": 1000}}},
            "spec.deployments.health_gates.max_latency_p99_ms",
        ),
        (
            {"deployments": {"health_gates": {"min_healthy_fraction": 0.5}}},
            "spec.deployments.health_gates.min_healthy_fraction",
        ),
        (
            {"deployments": {"health_gates": {"bake_time_s": 10}}},
            "spec.deployments.health_gates.bake_time_s",
        ),
        (
            {"deployments": {"rollback_triggers": {"error_rate_above": 0.5}}},
            "spec.deployments.rollback_triggers.error_rate_above",
        ),
        (
            {"deployments": {"rollback_triggers": {"on_policy_violation": False}}},
            "spec.deployments.rollback_triggers.on_policy_violation",
        ),
    ],
)
def test_every_loosened_limit_is_refused_with_the_parent_value(
    spec: dict[str, Any], path: str
) -> None:
    issue = only(overlay_issues(spec))
    assert (issue.code, issue.path) == ("loosens_parent", path)
    assert "the org policy 'org-policy' v4" in issue.message
    assert issue.remediation.startswith("use ")


def test_allowing_a_model_the_parent_does_not_allow_is_refused() -> None:
    issue = only(overlay_issues({"models": {"allow": ["gpt-4o-mini", "llama-*"]}}))
    assert (issue.code, issue.path) == ("model_not_allowed_by_parent", "spec.models.allow[1]")
    assert "gpt-4o*, claude-*" in issue.remediation


def test_allowing_a_model_the_parent_denies_is_refused() -> None:
    issue = only(overlay_issues({"models": {"allow": ["gpt-4o-preview"]}}))
    assert (issue.code, issue.path) == ("model_denied_by_parent", "spec.models.allow[0]")


def test_a_broader_allow_glob_than_the_parent_is_refused() -> None:
    issue = only(overlay_issues({"models": {"allow": ["gpt-*"]}}))
    assert issue.code == "model_not_allowed_by_parent"


def test_redefining_a_parent_rule_is_refused() -> None:
    issue = only(overlay_issues({"rules": [rule("org.no-drop", effect="require_approval")]}))
    assert (issue.code, issue.path) == ("rule_redefined", "spec.rules[0].id")


def test_layers_must_descend_and_stay_in_one_agency() -> None:
    agency = merge(layered(document(PARENT), document({}, layer="agency", agency="acme")))
    assert (
        only(check_overlay(agency, document({}, layer="agency", agency="acme"))).code
        == "layer_order"
    )
    other = check_overlay(agency, document({}, layer="team", agency="globex"))
    assert only(other).code == "agency_mismatch"
    assert check_overlay(agency, document({}, layer="team", agency="acme")) == []


def test_overlay_of_nothing_is_always_fine() -> None:
    assert check_overlay(None, document({"autonomy": {"ceiling": "L4"}})) == []


def test_defaults_do_not_constrain_overlays() -> None:
    silent_parent = merge([Layer(document({}), 1, "org")])
    spec = {
        "pii": {"entities": {"EMAIL": "allow"}},
        "deployments": {"rollback_triggers": {"on_policy_violation": False}},
    }
    assert check_overlay(silent_parent, document(spec, layer="agency")) == []


def test_loosening_issues_carry_positions_when_a_source_map_is_given() -> None:
    text = (EXAMPLES / "agency-acme.yaml").read_text().replace("ceiling: L2", "ceiling: L4")
    child, source = parse_policy_located(text)
    org = parse_policy((EXAMPLES / "org-baseline.yaml").read_text())
    issue = only(check_overlay(merge([Layer(org, 1, "org")]), child, source=source))
    assert (issue.path, issue.line, issue.column) == ("spec.autonomy.ceiling", 13, 14)


def test_example_overlays_are_accepted() -> None:
    org, agency, team = (
        parse_policy((EXAMPLES / f"{name}.yaml").read_text())
        for name in ("org-baseline", "agency-acme", "team-payments")
    )
    assert check_overlay(merge([Layer(org, 1, "org")]), agency) == []
    assert check_overlay(merge(layered(org, agency)), team) == []


# merge ------------------------------------------------------------------------------------------


def test_merge_keeps_the_strictest_value_and_its_layer() -> None:
    org = document({"autonomy": {"ceiling": "L2"}, "budgets": {"agent": {"daily": {"usd": 20}}}})
    agency = document(
        {"autonomy": {"ceiling": "L3"}, "budgets": {"agent": {"daily": {"usd": 5}}}}, layer="agency"
    )
    effective = merge([Layer(org, 7, "org"), Layer(agency, 2, "agency")])
    ceiling = effective.get("autonomy.ceiling")
    assert (ceiling.value, ceiling.source.layer, ceiling.source.version) == ("L2", "org", 7)
    budget = effective.get("budgets.agent.daily.usd")
    assert (budget.value, budget.source.layer, budget.source.policy) == (
        5,
        "agency",
        "agency-policy",
    )


def test_equal_values_keep_the_parent_as_their_source() -> None:
    effective = merge(
        layered(
            document({"autonomy": {"ceiling": "L2"}}),
            document({"autonomy": {"ceiling": "L2"}}, layer="agency"),
        )
    )
    assert effective.get("autonomy.ceiling").source.layer == "org"


def test_unions_and_intersections_across_layers() -> None:
    org = document(
        {
            "models": {"allow": ["gpt-*"], "deny": ["*-preview"]},
            "rules": [rule("a")],
            "budgets": {"alert_thresholds": [0.5, 0.8]},
            "deployments": {
                "freeze_windows": [
                    {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "reason": "a"}
                ]
            },
        }
    )
    agency = document(
        {
            "models": {"allow": ["gpt-4o*"], "deny": ["*-mini"]},
            "rules": [rule("b")],
            "budgets": {"alert_thresholds": [0.8, 0.9]},
            "deployments": {
                "freeze_windows": [
                    {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z", "reason": "b"}
                ]
            },
        },
        layer="agency",
    )
    effective = merge(layered(org, agency))
    assert [a.value for a in effective.model_allow] == [("gpt-*",), ("gpt-4o*",)]
    assert [d.value for d in effective.model_deny] == ["*-preview", "*-mini"]
    assert [r.rule.id for r in effective.rules] == ["a", "b"]
    assert [t.value for t in effective.alert_thresholds] == [0.5, 0.8, 0.9]
    assert [w.value.reason for w in effective.freeze_windows] == ["a", "b"]


def test_a_child_allow_list_cannot_open_what_a_parent_denies_even_unchecked() -> None:
    org = document({"models": {"allow": ["gpt-4o"]}, "pii": {"entities": {"SECRET": "deny"}}})
    loose = document(
        {"models": {"allow": ["*"]}, "pii": {"entities": {"SECRET": "allow"}}}, layer="agency"
    )
    policy = compile_policy(merge(layered(org, loose)))
    assert evaluate(policy, request(model="llama"), context()).decision == "deny"
    assert evaluate(policy, request(), context(pii_entities_found={"SECRET": 1})).decision == "deny"


def test_merge_rejects_misordered_or_mismatched_layers() -> None:
    org, agency = document({}), document({}, layer="agency")
    with pytest.raises(ValueError, match="ordered"):
        merge([Layer(agency, 1, "agency"), Layer(org, 1, "org")])
    with pytest.raises(ValueError, match="not a team policy"):
        merge([Layer(agency, 1, "team")])
    with pytest.raises(ValueError, match="different agencies"):
        merge(layered(agency, document({}, layer="team", agency="globex")))


def test_explain_shows_every_value_with_its_layer() -> None:
    org = document(
        {"autonomy": {"ceiling": "L3", "actions": {"db.*": "L2"}}, "pii": {"default": "deny"}}
    )
    agency = document(
        {
            "autonomy": {"ceiling": "L1"},
            "rules": [rule("agency.r")],
            "models": {"deny": ["*-preview"]},
        },
        layer="agency",
    )
    explained = merge([Layer(org, 3, "org"), Layer(agency, 9, "agency")]).explain()
    assert explained["layers"] == [
        {"layer": "org", "version": 3, "policy": "org-policy"},
        {"layer": "agency", "version": 9, "policy": "agency-policy"},
    ]
    assert explained["autonomy"]["ceiling"] == {
        "value": "L1",
        "layer": "agency",
        "version": 9,
        "policy": "agency-policy",
    }
    assert explained["autonomy"]["actions"] == [
        {"pattern": "db.*", "value": "L2", "layer": "org", "version": 3, "policy": "org-policy"}
    ]
    assert explained["pii"]["entities"]["EMAIL"]["value"] == "deny"
    assert explained["pii"]["entities"]["EMAIL"]["layer"] == "org"
    assert explained["pii"]["max_payload_bytes"]["layer"] == "default"
    assert explained["models"]["deny"] == [
        {"pattern": "*-preview", "layer": "agency", "version": 9, "policy": "agency-policy"}
    ]
    assert explained["rules"][0]["id"] == "agency.r"
    assert explained["rules"][0]["layer"] == "agency"
    assert explained["budgets"]["agent"]["daily"]["usd"]["value"] is None
    assert explained["deployments"]["health_gates"]["bake_time_s"]["value"] == 60
    import json

    json.dumps(explained)
