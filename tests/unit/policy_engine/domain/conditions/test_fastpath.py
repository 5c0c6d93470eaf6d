"""The authorize hot path must decide exactly like the straightforward evaluation it replaces.

- ``celfast``: whenever the Python shortcut of a condition answers, CEL answers the same;
- ``plans.binder``: binds exactly what ``celexpr.bind`` binds over the documented variables;
- the rules of an agent action report exactly what ``checks.check_rules`` (the generic path,
  a CEL context over every variable converted up front) reports, errors included;
- risk and approvals: the same numbers as ``risk_factors`` / ``merge_approvals``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import cel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.domain.conditions.expr import bind, compile_condition
from policy_engine.domain.conditions.fast import compile_fast
from policy_engine.domain.decisions.checks import (
    Outcome,
    check_rules,
    merge_approvals,
    merge_requirements,
)
from policy_engine.domain.decisions.decision import DecisionResult
from policy_engine.domain.decisions.evaluator import _authorize_variable, _check_rules, evaluate
from policy_engine.domain.decisions.inputs import AuthorizeInput, BudgetUsage, EvalContext
from policy_engine.domain.decisions.plans import action_plan, binder
from policy_engine.domain.decisions.risk import (
    MODEL_TIER_FACTOR,
    ModelTier,
    risk_factors,
    scored_factors,
    weighted_risk,
)
from policy_engine.domain.decisions.rules import ApprovalSpec
from policy_engine.domain.document.schema import DATA_CLASSES
from tests.unit.policy_engine.builders import NOW, compiled, rule

SOME = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# celfast -----------------------------------------------------------------------------------

NAMES = frozenset({"a", "b", "c"})
SHORTCUTS = [
    "a > 1",
    "a >= 1 && a <= 10",
    "a < 1.5 || a == 2.5",
    "1 < a",
    "1.5 >= a",
    "a == 'x' || a != 'y'",
    "a < 'm'",
    "'m' <= a",
    "a == true",
    "false != a",
    "a",
    "!a",
    "!!a || b",
    "a && b || c",
    "a || b && c",
    "(a || b) && !c",
    "a == b",
    "a < b",
    "a >= b && b != c",
    "a.startsWith('x') && b > 3",
    "!a.endsWith('y') || c == 'q'",
    "a.contains('') && a.contains('z')",
    "true && a",
    "false || a",
    "a > 9223372036854775807",
    "a == 0.0",
    "a == 0",
]
VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, 10, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.5, 2.5, math.nan, math.inf]),
    st.text(max_size=4),
    st.sampled_from(["", "x", "xy", "m", "q", "xyz", "é", "\udc80"]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def run(program: cel.Program, variables: dict[str, Any]) -> Any:
    try:
        return program.execute(cel.Context(variables=variables))
    except Exception as exc:
        return exc


@pytest.mark.parametrize("source", SHORTCUTS)
@SOME
@given(bound=st.dictionaries(st.sampled_from(sorted(NAMES)), VALUES))
def test_a_shortcut_answers_only_what_cel_answers(source: str, bound: dict[str, Any]) -> None:
    fast = compile_fast(source, NAMES)
    assert fast is not None
    answer = fast(bound)
    if answer is None:
        return
    try:
        cel.Context(variables=bound)
    except ValueError:
        return  # the evaluator never takes the shortcut over values CEL cannot convert
    assert run(cel.compile(source), bound) is answer


@pytest.mark.parametrize(
    "source",
    [
        "a + 1 > 2",
        "size(a) > 1",
        "a in b",
        "a.b == 1",
        "-1 < a",
        "a > 1u",
        "a > 1e3",
        "a > 0x10",
        "a > 01",
        "a ? b : c",
        "r'x' == a",
        "'''x''' == a",
        "a == 'it\\'s'",
        "a == null",
        "has(a)",
        "a < b < c",
        "(a) == 1",
        "a.startsWith(b)",
        "d > 1",
        "1 == 1",
        "a == [1]",
        "a.size() > 1",
        "a > 99999999999999999999",
        "true < a",
        "[1].exists(a, a > 0)",
        " && ".join(["a"] * 100),
    ],
)
def test_anything_else_has_no_shortcut(source: str) -> None:
    assert compile_fast(source, NAMES) is None


def test_literals_reach_the_shortcut_as_data() -> None:
    fast = compile_fast("a == \"') or True or ('\" || b == '__import__'", NAMES)
    assert fast is not None
    assert fast({"a": "') or True or ('", "b": "x"}) is True
    assert fast({"a": "x", "b": "y"}) is False


# binder ------------------------------------------------------------------------------------

CONDITIONS = [
    "request.amount > 1.0",
    "has(request.tag) && request.tag == 'x'",
    "request.nested.level > 2 || has(request.nested.deep)",
    "size(request) > 1",
    "action.type == 'db.read' && action.autonomy_level >= 2",
    "action.data_class == 'internal' || action.estimated_cost_usd > 1.0",
    "action.estimated_tokens > 10 && has(action.model) && action.model == 'm'",
    "has(action.destination) || has(action.deployment_id) || action.destination == 'd'",
    "action.nothing == 1 || has(action.nothing) || has(action.type.x)",
    "agent.id == 'a' && agent.agency == 'b' && agent.recent_violations > 1",
    "has(agent.team) && agent.team == 't' || size(agent) > 1",
    "resource.id.startsWith('prod/') && resource.labels.env == 'prod'",
    "has(resource.labels.env) || has(resource.id) || has(resource.other)",
    "size(resource.labels) > 0 || resource.id.x == 1 || has(resource.other.x)",
    "context.now.getHours() > 3 && context.payload_oversize",
    "context.pii.EMAIL > 0 || has(context.pii.EMAIL) || has(context.now)",
    "context.budget.agent.daily.usd > 1.0 || has(context.nothing) || has(context.now.x)",
    "[1, 2].exists(request, request > 1)",
]
MAPPING_VALUES = st.one_of(
    st.integers(-5, 5),
    st.sampled_from([2**70, 1.5, "x", "prod", "é", True]),
    st.sampled_from([math.nan, "\ud800", None, [1], object()]),
    st.dictionaries(st.sampled_from(["level", "deep"]), st.integers(0, 5), max_size=2),
)


@st.composite
def actions(draw: st.DrawFn) -> tuple[AuthorizeInput, EvalContext]:
    tz = draw(st.sampled_from([UTC, timezone(timedelta(hours=5)), ZoneInfo("Europe/Paris")]))
    keys = ["amount", "tag", "nested", "other"]
    labels: Any = draw(st.dictionaries(st.sampled_from(["env", "tier"]), MAPPING_VALUES))
    inp = AuthorizeInput(
        agency=draw(st.sampled_from(["acme", "b"])),
        agent_id=draw(st.sampled_from(["a", "agent-1"])),
        action_type=draw(st.sampled_from(["db.read", "db.write"])),
        resource=draw(st.sampled_from(["prod/a", "dev/b"])),
        team=draw(st.sampled_from([None, "t"])),
        labels=labels,  # not only strings: whatever a caller sends must decide the same
        model=draw(st.sampled_from([None, "m"])),
        autonomy_level=draw(st.integers(0, 4)),
        data_class=draw(st.sampled_from(DATA_CLASSES)),
        destination=draw(st.sampled_from([None, "d"])),
        estimated_cost_usd=draw(st.sampled_from([0.0, 2.5, 3])),
        estimated_tokens=draw(st.integers(0, 20)),
        deployment_id=draw(st.sampled_from([None, "x"])),
        extra=draw(st.dictionaries(st.sampled_from(keys), MAPPING_VALUES)),
    )
    ctx = EvalContext(
        now=NOW.astimezone(tz),
        pii_entities_found=draw(st.sampled_from([{}, {"EMAIL": 2}])),
        payload_oversize=draw(st.booleans()),
        budget=BudgetUsage(agent_daily_usd=draw(st.sampled_from([0.0, 2.0]))),
        recent_violations=draw(st.integers(-1, 3)),
    )
    return inp, ctx


@SOME
@given(source=st.sampled_from(CONDITIONS), request=actions())
def test_the_binder_binds_what_bind_binds(
    source: str, request: tuple[AuthorizeInput, EvalContext]
) -> None:
    inp, ctx = request
    checked = compile_condition(source)
    expected = bind(checked.flat, checked.needs, lambda name: _authorize_variable(inp, ctx, name))
    bind_request = binder(checked.flat, tuple(checked.needs.items()), _authorize_variable)
    bound, scalar = bind_request(inp, ctx)
    assert list(bound) == list(expected)
    for name, value in expected.items():
        assert bound[name] == value or (value != value and bound[name] is value), name
    if scalar:  # then a resolver may hand every value to CEL as is
        cel.Context(variables=bound)
        assert None not in bound.values()


# the rules of an agent action ----------------------------------------------------------------


def reference(policy: Any, inp: AuthorizeInput, ctx: EvalContext) -> tuple[Any, ...]:
    """The rules' reasons by the generic path: every variable converted up front."""
    out = Outcome()
    check_rules(
        policy,
        inp.action_type,
        inp.resource,
        inp.labels,
        lambda name: _authorize_variable(inp, ctx, name),
        out,
    )
    return tuple(out.reasons), merge_approvals(out.approvals) if out.approvals else None


WITH_SHORTCUTS = [
    "request.amount > 1 && request.tag != 'y'",
    "!has(request.tag) || request.tag.startsWith('x')",
    "request.amount == request.other || action.estimated_cost_usd >= 2.5",
    "agent.recent_violations > 0 && resource.labels.env == 'prod'",
]


def rules_policy(sources: list[str]) -> Any:
    return compiled(
        {
            "rules": [
                rule(
                    f"r{index}",
                    match={"actions": ["db.*"], **({"resources": ["prod/*"]} if index % 4 else {})},
                    condition=source,
                    effect="require_approval" if index % 3 == 0 else "deny",
                )
                for index, source in enumerate(sources)
            ]
        }
    )


#: Every condition (some read whole variables: no value is resolved on demand), and only
#: those that read fields (values are resolved on demand when CEL can take them as they are).
POLICIES = [
    rules_policy(CONDITIONS + WITH_SHORTCUTS),
    rules_policy([c for c in CONDITIONS + WITH_SHORTCUTS if not compile_condition(c).needs]),
]


@SOME
@given(request=actions())
def test_rules_report_what_the_generic_path_reports(
    request: tuple[AuthorizeInput, EvalContext],
) -> None:
    inp, ctx = request
    for policy in POLICIES:
        plan = action_plan(policy, inp.action_type, _authorize_variable)
        reasons: list[Any] = []
        approvals = _check_rules(plan, inp, ctx, reasons)
        expected_reasons, expected_approval = reference(policy, inp, ctx)
        assert tuple(reasons) == expected_reasons
        assert (merge_requirements(approvals) if approvals else None) == expected_approval


@pytest.mark.parametrize(
    ("extra", "now"),
    [
        ({"note": "\ud800"}, NOW),
        ({"note": object()}, NOW),
        ({"note": "x"}, datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))),
    ],
)
def test_values_cel_cannot_convert_fail_every_condition_as_before(
    extra: dict[str, Any], now: datetime
) -> None:
    policy = compiled(
        {
            "rules": [
                rule("reads-it", condition="request.note == 'x' || context.now.getHours() > 1"),
                rule("reads-other", condition="request.rows > 1"),
            ]
        }
    )
    inp = AuthorizeInput("acme", "a", "db.read", "prod/a", extra={**extra, "rows": 5})
    ctx = EvalContext(now=now)
    result = evaluate(policy, inp, ctx)
    assert [r.rule_id for r in result.reasons] == ["reads-it", "reads-other"]
    assert all("Failed to convert variable" in r.message for r in result.reasons)
    assert result.reasons == reference(policy, inp, ctx)[0]


def test_a_null_field_is_read_as_null() -> None:
    policy = compiled({"rules": [rule(condition="request.note == null")]})
    inp = AuthorizeInput("acme", "a", "db.read", "prod/a", extra={"note": None})
    assert evaluate(policy, inp, EvalContext(now=NOW)).decision == "deny"


# risk and approvals --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    autonomy=st.integers(0, 4),
    rank=st.integers(0, len(DATA_CLASSES) - 1),
    cost_ratio=st.floats(allow_nan=True),
    tier=st.sampled_from(list(ModelTier)),
    violations=st.integers(-10, 10**9),
)
def test_scored_factors_are_risk_factors_and_weighted_risk(
    autonomy: int, rank: int, cost_ratio: float, tier: ModelTier, violations: int
) -> None:
    factors = risk_factors(
        autonomy_level=autonomy,
        data_class=DATA_CLASSES[rank],
        cost_ratio=cost_ratio,
        model_tier=tier,
        recent_violations=violations,
    )
    score, fast_factors = scored_factors(
        autonomy, rank, cost_ratio, MODEL_TIER_FACTOR[tier], violations
    )
    assert repr(fast_factors) == repr(factors)
    assert repr(score) == repr(weighted_risk(factors))


@given(
    specs=st.lists(
        st.tuples(
            st.sampled_from(["r1", "r2", "r3"]),
            st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3),
            st.integers(1, 3),
            st.integers(60, 7200),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_merged_requirements_are_merged_approvals(
    specs: list[tuple[str, list[str], int, int]],
) -> None:
    approvals = [(rid, ApprovalSpec(tuple(roles), q, s)) for rid, roles, q, s in specs]
    alone = [merge_approvals([approval]) for approval in approvals]
    assert merge_requirements(alone) == merge_approvals(approvals)


def test_results_are_plain_decision_results() -> None:
    result = evaluate(compiled({}), AuthorizeInput("acme", "a", "x", "r"), EvalContext(now=NOW))
    assert type(result) is DecisionResult
    assert result == DecisionResult(*result)
    assert result.risk_factors["autonomy"] == 0.0
