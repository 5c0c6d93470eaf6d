import json

import pytest

from policy_engine.domain.document.loader import (
    Issue,
    PolicyInvalid,
    parse_policy,
    parse_policy_located,
)
from policy_engine.domain.document.parse_limits import LimitExceeded, ParseLimits
from policy_engine.domain.document.schema import PII_ENTITIES, policy_json_schema
from tests.unit.policy_engine.builders import EXAMPLES, policy_text


def issues_of(text: str, content_type: str = "yaml") -> list[Issue]:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text, content_type=content_type)  # type: ignore[arg-type]
    return caught.value.issues


def only(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, issues
    return issues[0]


def test_example_policies_are_valid() -> None:
    names = sorted(path.name for path in EXAMPLES.glob("*.yaml"))
    assert names == ["agency-acme.yaml", "org-baseline.yaml", "team-payments.yaml"]
    for path in EXAMPLES.glob("*.yaml"):
        document = parse_policy(path.read_text())
        assert document.metadata.name


def test_unknown_field_is_reported_at_its_key_with_a_suggestion() -> None:
    issue = only(issues_of(policy_text("autonomy:\n  celing: L2")))
    assert (issue.code, issue.path, issue.line, issue.column) == (
        "extra_forbidden",
        "spec.autonomy.celing",
        6,
        5,
    )
    assert "did you mean 'ceiling'" in issue.remediation


def test_wrong_type_is_reported_at_the_value() -> None:
    issue = only(issues_of(policy_text("deployments:\n  max_agents_per_batch: lots")))
    assert (issue.code, issue.line, issue.column) == ("int_type", 6, 27)
    assert issue.path == "spec.deployments.max_agents_per_batch"
    assert "whole number" in issue.remediation


def test_quoted_number_is_not_coerced() -> None:
    issue = only(issues_of(policy_text('budgets:\n  agent:\n    daily: {usd: "5"}')))
    assert issue.code == "float_type"
    assert (issue.line, issue.column) == (7, 20)


def test_missing_field_points_at_the_enclosing_item() -> None:
    text = policy_text(
        "rules:\n"
        "  - id: r1\n"
        "    match: {actions: [db.drop]}\n"
        "    effect: deny\n"
        "    message: no drops\n"
    )
    issue = only(issues_of(text))
    assert (issue.code, issue.path) == ("missing", "spec.rules[0].remediation")
    assert (issue.line, issue.column) == (6, 7)


def test_literal_error_lists_allowed_values() -> None:
    issue = only(issues_of(policy_text("autonomy:\n  ceiling: L5")))
    assert issue.code == "literal_error"
    assert "'L4'" in issue.remediation
    assert (issue.line, issue.column) == (6, 14)


def test_duplicate_yaml_keys_are_reported_each_with_position() -> None:
    text = policy_text("pii:\n  default: mask\n  default: deny\nbudgets: {}\nbudgets: {}")
    issues = issues_of(text)
    assert [(i.code, i.path, i.line, i.column) for i in issues] == [
        ("duplicate_key", "spec.pii.default", 7, 5),
        ("duplicate_key", "spec.budgets", 9, 3),
    ]


def test_bad_yaml_syntax_has_position() -> None:
    issue = only(issues_of("apiVersion: cortex.codevald.io/v1\nkind: [AIPolicy\nmetadata: {}\n"))
    assert issue.code == "yaml_syntax"
    assert issue.line == 3
    assert issue.column is not None


def test_empty_and_non_mapping_documents_are_rejected() -> None:
    assert only(issues_of("  \n")).code == "empty"
    issue = only(issues_of("- a\n- b\n"))
    assert (issue.code, issue.line, issue.column) == ("model_type", 1, 1)


def test_bad_glob_is_reported_at_the_pattern() -> None:
    issue = only(issues_of(policy_text('models:\n  allow: ["gpt-4o*", "gpt-[4"]')))
    assert (issue.code, issue.path) == ("invalid_glob", "spec.models.allow[1]")
    assert (issue.line, issue.column) == (6, 24)
    assert "unclosed '['" in issue.message


def test_bad_glob_used_as_a_key_is_reported_at_the_key() -> None:
    issue = only(issues_of(policy_text('autonomy:\n  actions:\n    "deploy.[]": L1')))
    assert (issue.code, issue.line, issue.column) == ("invalid_glob", 7, 7)
    assert issue.path == 'spec.autonomy.actions["deploy.[]"]'


def test_duplicate_rule_ids_are_reported_at_the_second_id() -> None:
    text = policy_text(
        "rules:\n"
        "  - {id: r1, match: {actions: [a]}, effect: deny, message: m, remediation: r}\n"
        "  - {id: r2, match: {actions: [a]}, effect: deny, message: m, remediation: r}\n"
        "  - {id: r1, match: {actions: [a]}, effect: deny, message: m, remediation: r}\n"
    )
    issue = only(issues_of(text))
    assert (issue.code, issue.path, issue.line, issue.column) == (
        "duplicate_rule_id",
        "spec.rules[2].id",
        8,
        12,
    )


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("request.rows >", "invalid CEL at 1:15"),
        ("secrets.token == 'x'", "unknown variable(s) secrets"),
        ("request.name.lowerAscii() == 'x'", "unknown function(s) lowerAscii"),
    ],
)
def test_bad_cel_is_reported_at_the_condition(condition: str, fragment: str) -> None:
    text = policy_text(
        "rules:\n"
        "  - id: r1\n"
        "    match: {actions: [db.delete]}\n"
        f"    condition: {json.dumps(condition)}\n"
        "    effect: deny\n"
        "    message: m\n"
        "    remediation: r\n"
    )
    issue = only(issues_of(text))
    assert (issue.code, issue.path) == ("invalid_cel", "spec.rules[0].condition")
    assert (issue.line, issue.column) == (8, 18)
    assert fragment in issue.message
    assert "action, resource, agent" in issue.remediation


def test_macro_bound_names_are_allowed_in_conditions() -> None:
    text = policy_text(
        "rules:\n"
        "  - id: r1\n"
        "    match: {actions: [db.delete]}\n"
        "    condition: request.items.exists(item, item.rows > 10)\n"
        "    effect: deny\n"
        "    message: m\n"
        "    remediation: r\n"
    )
    assert parse_policy(text).spec.rules[0].condition


def test_every_problem_is_reported_in_document_order() -> None:
    text = policy_text(
        "models: {allow: ['x[']}\n"
        "autonomy: {ceiling: L9}\n"
        "bogus: 1\n"
        "rules:\n"
        "  - {id: a, match: {actions: [x]}, condition: 'foo', effect: deny, message: m,"
        " remediation: r}\n"
        "  - {id: a, match: {actions: [x]}, effect: deny, message: m, remediation: r}\n"
    )
    issues = issues_of(text)
    assert [i.code for i in issues] == [
        "invalid_glob",
        "literal_error",
        "extra_forbidden",
        "invalid_cel",
        "duplicate_rule_id",
    ]
    assert [i.line for i in issues] == [5, 6, 7, 9, 10]
    assert all(i.remediation for i in issues)


def test_cross_field_rules_are_checked() -> None:
    layer = issues_of(policy_text("{}", metadata="{name: p, layer: team, agency: acme}"))
    assert only(layer).code == "layer_mismatch"
    window = policy_text(
        "deployments:\n"
        "  freeze_windows:\n"
        "    - {start: 2026-02-01T00:00:00Z, end: 2026-01-01T00:00:00Z, reason: x}\n"
    )
    assert only(issues_of(window)).code == "empty_window"
    approval = policy_text(
        "rules:\n"
        "  - {id: a, match: {actions: [x]}, effect: deny, message: m, remediation: r,"
        " approval: {roles: [lead]}}\n"
    )
    assert only(issues_of(approval)).code == "approval_without_effect"


def test_timestamps_need_a_timezone() -> None:
    text = policy_text(
        "deployments:\n"
        "  freeze_windows:\n"
        "    - {start: 2026-01-01 10:00:00, end: 2026-01-02T00:00:00Z, reason: x}\n"
    )
    issue = only(issues_of(text))
    assert (issue.code, issue.path) == (
        "timezone_aware",
        "spec.deployments.freeze_windows[0].start",
    )


def test_json_policies_are_validated_with_positions() -> None:
    text = (
        '{"apiVersion": "cortex.codevald.io/v1", "kind": "AIPolicy",\n'
        ' "metadata": {"name": "p", "layer": "org"},\n'
        ' "spec": {"autonomy": {"ceiling": "L2", "ceiling": "L1"},\n'
        '          "pii": {"entities": {"PASSPORT": "deny"}}}}'
    )
    issues = issues_of(text, "json")
    assert [(i.code, i.line, i.column) for i in issues] == [
        ("duplicate_key", 3, 41),
        ("literal_error", 4, 32),
    ]


def test_json_syntax_errors_have_positions() -> None:
    issue = only(issues_of('{"apiVersion": "x",\n "kind": }', "json"))
    assert (issue.code, issue.line, issue.column) == ("json_syntax", 2, 10)


def test_valid_json_policy_parses() -> None:
    text = json.dumps(
        {
            "apiVersion": "cortex.codevald.io/v1",
            "kind": "AIPolicy",
            "metadata": {"name": "p", "layer": "org"},
            "spec": {"models": {"allow": ["gpt-4o*"]}},
        }
    )
    assert parse_policy(text, content_type="json").spec.models.allow == ("gpt-4o*",)


def test_source_map_locates_fields_of_a_valid_policy() -> None:
    _, source = parse_policy_located(policy_text("budgets:\n  agent:\n    daily: {usd: 5}"))
    assert source.locate(("spec", "budgets", "agent", "daily", "usd")) == (7, 20)
    assert source.locate(("spec", "budgets", "agent", "monthly")) == (6, 5)


def test_json_schema_describes_the_document() -> None:
    schema = policy_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"apiVersion", "kind", "metadata"}
    assert schema["properties"]["apiVersion"]["const"] == "cortex.codevald.io/v1"
    assert schema["additionalProperties"] is False
    pii = schema["$defs"]["PiiPolicy"]["properties"]["entities"]
    assert set(pii["propertyNames"]["enum"]) == set(PII_ENTITIES)
    assert "CEL" in json.dumps(schema["$defs"]["Rule"])


# --- parser limits: refused in one linear pass, before anything recursive reads the text ---

LAUGHS = "lol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9)
)


def exceeded(text: str, content_type: str = "yaml", **limits: int) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        parse_policy(text, content_type=content_type, limits=ParseLimits(**limits))  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ("[" * 10_000 + "]" * 10_000, "yaml"),  # flow style, the tester's 20 KB body
        ("- " * 5_000 + "x\n", "yaml"),  # block sequences on one line
        ("".join(f"{'  ' * n}k{n}:\n" for n in range(60)) + "  " * 60 + "v\n", "yaml"),
        ("[" * 50_000 + "]" * 50_000, "json"),
    ],
    ids=["yaml-flow", "yaml-block-sequence", "yaml-block-mapping", "json"],
)
def test_deep_nesting_is_refused_before_the_parse_recurses(text: str, content_type: str) -> None:
    error = exceeded(text, content_type)
    assert (error.limit, error.value) == ("max_depth", 32)
    assert error.line is not None


def test_json_as_deep_as_python_cannot_decode_is_a_limit_not_a_recursion_error() -> None:
    error = exceeded("[" * 100_000 + "]" * 100_000, "json", max_bytes=1 << 20)
    assert error.limit == "max_depth"
    assert (error.line, error.column) == (1, 33)


def test_billion_laughs_is_refused_by_its_expanded_size() -> None:
    error = exceeded(LAUGHS)  # 40 aliases, 9**9 values once expanded
    assert error.limit == "max_nodes"


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert exceeded("spec: &s {models: *s}\n").limit == "max_nodes"


def test_too_many_aliases_are_refused_at_the_first_one_past_the_limit() -> None:
    text = policy_text("models:\n  allow: &m [gpt-4o]\n" + "x: *m\n" * 5)  # aliases on 7-11
    error = exceeded(text, max_aliases=3)
    assert (error.limit, error.line) == ("max_aliases", 10)


def test_a_big_document_is_refused_by_its_size() -> None:
    text = policy_text("rules:\n" + "  - {id: r, match: {actions: [a]}, effect: deny}\n" * 3_000)
    error = exceeded(text)
    assert (error.limit, error.value) == ("max_bytes", 131_072)


def test_anchors_and_aliases_within_the_limits_still_parse() -> None:
    approval = "{roles: [lead], quorum: 2}"
    text = policy_text(
        "deployments:\n"
        f"  approval: &approval {approval}\n"
        "rules:\n"
        "  - id: r1\n"
        "    match: {actions: [payments.*]}\n"
        "    effect: require_approval\n"
        "    message: needs a lead\n"
        "    remediation: ask a lead\n"
        "    approval: *approval\n"
    )
    document = parse_policy(text)
    assert document.spec.rules[0].approval == document.spec.deployments.approval
