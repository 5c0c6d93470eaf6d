"""Properties: overlays never loosen a parent deny; evaluation is deterministic; risk is bounded."""

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policy_engine.domain.decisions.compiler import compile_policy
from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.decisions.inputs import AuthorizeInput, BudgetUsage, EvalContext
from policy_engine.domain.decisions.risk import ModelTier, deployment_risk_score, risk_score
from policy_engine.domain.document.inheritance import Layer, check_overlay, merge
from policy_engine.domain.document.schema import (
    AUTONOMY_LEVELS,
    DATA_CLASSES,
    PII_ACTIONS,
    PII_ENTITIES,
)
from tests.unit.policy_engine.builders import NOW, document, rule

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MODELS = [None, "gpt-4o", "gpt-4o-mini", "claude-3", "llama-3", "x-preview"]
ACTIONS = ["db.drop", "db.write", "deploy.prod", "fs.write", "http.get"]
RULES = [
    rule("drop", match={"actions": ["db.drop"]}),
    rule("rows", match={"actions": ["db.*"]}, condition="request.rows > 100"),
    rule("deploys", match={"actions": ["deploy.*"]}, effect="require_approval"),
    rule(
        "prod-l3",
        match={"actions": ["*"], "resources": ["prod/*"]},
        condition="action.autonomy_level >= 3",
    ),
    rule("fragile", match={"actions": ["fs.*"]}, condition="request.missing > 1"),
]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def specs(draw: st.DrawFn, prefix: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "models": {
            "allow": draw(
                maybe(
                    st.lists(
                        st.sampled_from(["gpt-4o*", "gpt-4o-mini", "claude-*", "llama-3"]),
                        unique=True,
                    )
                )
            ),
            "deny": draw(
                st.lists(st.sampled_from(["*-preview", "llama-*", "gpt-4o-mini"]), unique=True)
            ),
        },
        "autonomy": {
            "ceiling": draw(maybe(st.sampled_from(AUTONOMY_LEVELS))),
            "actions": draw(
                st.dictionaries(
                    st.sampled_from(["db.*", "db.write", "deploy.*"]),
                    st.sampled_from(AUTONOMY_LEVELS),
                    max_size=2,
                )
            ),
        },
        "data": {
            "max_class": draw(maybe(st.sampled_from(DATA_CLASSES))),
            "destinations": draw(
                st.dictionaries(
                    st.sampled_from(["https://*", "s3://*"]),
                    st.sampled_from(DATA_CLASSES),
                    max_size=2,
                )
            ),
        },
        "pii": {
            "default": draw(maybe(st.sampled_from(PII_ACTIONS))),
            "entities": draw(
                st.dictionaries(
                    st.sampled_from(PII_ENTITIES[:3]), st.sampled_from(PII_ACTIONS), max_size=3
                )
            ),
        },
        "budgets": {"agent": {"daily": {"usd": draw(maybe(st.integers(0, 50)))}}},
        "rules": [
            {**r, "id": f"{prefix}{r['id']}"}
            for r in draw(st.lists(st.sampled_from(RULES), unique_by=lambda r: r["id"], max_size=3))
        ],
    }
    return {
        key: {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value
        for key, value in spec.items()
    }


@st.composite
def requests(draw: st.DrawFn) -> tuple[AuthorizeInput, EvalContext]:
    inp = AuthorizeInput(
        agency="acme",
        agent_id="agent-1",
        action_type=draw(st.sampled_from(ACTIONS)),
        resource=draw(st.sampled_from(["prod/a", "dev/b"])),
        model=draw(st.sampled_from(MODELS)),
        autonomy_level=draw(st.integers(0, 4)),
        data_class=draw(st.sampled_from(DATA_CLASSES)),
        destination=draw(st.sampled_from([None, "https://a", "s3://b"])),
        estimated_cost_usd=draw(st.floats(0, 60)),
        extra={"rows": draw(st.integers(0, 500))},
    )
    ctx = EvalContext(
        now=NOW,
        pii_entities_found=draw(
            st.dictionaries(st.sampled_from(PII_ENTITIES[:4]), st.integers(1, 3), max_size=2)
        ),
        budget=BudgetUsage(agent_daily_usd=draw(st.floats(0, 40))),
        recent_violations=draw(st.integers(0, 20)),
    )
    return inp, ctx


# Most random overlays loosen their random parent and are refused (that refusal is what the
# property is about), so the accepted ones are found by filtering: a run may filter several
# times more inputs than it keeps, which Hypothesis's health check would call a failure.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(parent=specs("p-"), child=specs("c-"), cases=st.lists(requests(), min_size=1, max_size=8))
def test_an_accepted_overlay_never_loosens_a_parent_deny(
    parent: dict[str, Any], child: dict[str, Any], cases: list[tuple[AuthorizeInput, EvalContext]]
) -> None:
    parent_doc, child_doc = document(parent), document(child, layer="agency")
    parent_effective = merge([Layer(parent_doc, 1, "org")])
    assume(not check_overlay(parent_effective, child_doc))
    alone = compile_policy(parent_effective)
    merged = compile_policy(merge([Layer(parent_doc, 1, "org"), Layer(child_doc, 1, "agency")]))
    for inp, ctx in cases:
        if evaluate(alone, inp, ctx).decision == "deny":
            assert evaluate(merged, inp, ctx).decision in ("deny", "require_approval")


@FAST
@given(parent=specs("p-"), child=specs("c-"), cases=st.lists(requests(), min_size=1, max_size=8))
def test_merging_denies_whatever_the_parent_denies_even_without_the_check(
    parent: dict[str, Any], child: dict[str, Any], cases: list[tuple[AuthorizeInput, EvalContext]]
) -> None:
    parent_doc, child_doc = document(parent), document(child, layer="agency")
    alone = compile_policy(merge([Layer(parent_doc, 1, "org")]))
    merged = compile_policy(merge([Layer(parent_doc, 1, "org"), Layer(child_doc, 1, "agency")]))
    for inp, ctx in cases:
        if evaluate(alone, inp, ctx).decision == "deny":
            assert evaluate(merged, inp, ctx).decision == "deny"


@FAST
@given(spec=specs("p-"), cases=st.lists(requests(), min_size=1, max_size=8))
def test_evaluation_is_deterministic(
    spec: dict[str, Any], cases: list[tuple[AuthorizeInput, EvalContext]]
) -> None:
    doc = document(spec)
    first = compile_policy(merge([Layer(doc, 1, "org")]))
    second = compile_policy(merge([Layer(doc, 1, "org")]))
    for inp, ctx in cases:
        result = evaluate(first, inp, ctx)
        assert evaluate(first, inp, ctx) == result
        assert evaluate(second, inp, ctx) == result
        assert 0.0 <= result.risk_score <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    autonomy=st.integers(0, 4),
    data_class=st.sampled_from(DATA_CLASSES),
    cost_ratio=st.floats(-1e9, 1e9, allow_nan=False),
    tier=st.sampled_from(list(ModelTier)),
    violations=st.integers(-10, 10**9),
)
def test_risk_is_always_between_zero_and_one(
    autonomy: int, data_class: str, cost_ratio: float, tier: ModelTier, violations: int
) -> None:
    score = risk_score(
        autonomy_level=autonomy,
        data_class=data_class,
        cost_ratio=cost_ratio,
        model_tier=tier,
        recent_violations=violations,
    )
    assert 0.0 <= score <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    environment=st.text(max_size=12),
    targets=st.integers(0, 10**6),
    batch=st.integers(0, 10**6),
    changes=st.integers(0, 10**6),
    kind=st.sampled_from(["config", "prompt", "model", "code", "other"]),
    failure_rate=st.floats(-5, 5, allow_nan=False),
)
def test_deployment_risk_is_always_between_zero_and_one(
    environment: str, targets: int, batch: int, changes: int, kind: str, failure_rate: float
) -> None:
    score = deployment_risk_score(
        environment=environment,
        target_agents=targets,
        batch_size=batch,
        config_changes=changes,
        change_kind=kind,
        recent_change_failure_rate=failure_rate,
    )
    assert 0.0 <= score <= 1.0
