"""Flattened conditions must decide exactly like the expressions users wrote."""

from datetime import UTC, datetime
from typing import Any

import cel
import pytest

from policy_engine.domain.conditions.expr import (
    CelError,
    bind,
    compile_condition,
    field_needs,
    unflatten_names,
)

VARIABLES: list[dict[str, Any]] = [
    {
        "request": {"amount": 700.0, "rows": 3, "items": [{"cost": 2}], "tags": {"tier": "gold"}},
        "resource": {"id": "prod/db", "labels": {"env": "prod"}},
        "agent": {"id": "a1", "team": "payments", "recent_violations": 2},
        "action": {"type": "db.delete", "autonomy_level": 3},
        "context": {"now": datetime(2026, 1, 1, 22, tzinfo=UTC)},
    },
    {
        "request": {"amount": 5, "rows": "many"},
        "resource": {"id": "dev/db", "labels": {}},
        "agent": {"id": "a2", "recent_violations": 0},
        "action": {"type": "db.read", "autonomy_level": 0},
        "context": {"now": datetime(2026, 1, 1, 9, tzinfo=UTC)},
    },
    {"request": {}, "resource": {"id": "x", "labels": {"env": 3}}, "agent": {}, "action": {}},
]

EXPRESSIONS = [
    "request.amount > 500.0",
    "request.rows > 100 && resource.labels.env == 'prod'",
    "has(request.amount) && request.amount > 1",
    "has(resource.labels.env) || agent.recent_violations > 1",
    "request.items.exists(i, i.cost > 1)",
    "request.tags.tier == 'gold'",
    "size(request) > 2 && request.rows == 3",
    "resource.id.startsWith('prod/')",
    "context.now.getHours() >= 19",
    "action.type == 'db.delete' || request.amount > 10.0",
    "agent.team == 'payments'",
    "'request.amount' == resource.id",
    "request.size() > 0",
]


def run(program: cel.Program, variables: dict[str, Any]) -> Any:
    try:
        return program.execute(cel.Context(variables=variables))
    except Exception:
        return "error"


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_flattened_condition_decides_like_the_original(expression: str) -> None:
    checked = compile_condition(expression)
    original = cel.compile(expression)
    for variables in VARIABLES:

        def variable(name: str, variables: dict[str, Any] = variables) -> dict[str, Any]:
            found: dict[str, Any] = variables.get(name, {})
            return found

        bound = bind(checked.flat, checked.needs, variable)
        assert run(checked.program, bound) == run(original, variables), variables


def test_flattening_rewrites_field_reads_only_outside_strings() -> None:
    checked = compile_condition("'request.amount' == request.note && resource.labels.env == 'x'")
    assert (
        checked.program.source
        == "'request.amount' == request__note && resource__labels__env == 'x'"
    )
    assert {f.name for f in checked.flat} == {"request__note", "resource__labels__env"}


def test_whole_variable_uses_are_bound_whole() -> None:
    assert field_needs("size(request) > 1 && agent.id == 'x'") == {
        "request": None,
        "agent": frozenset({"id"}),
    }


def test_flattened_names_read_as_written_in_errors() -> None:
    message = "Undefined variable or function: 'request__amount' or has__resource__labels__env"
    assert unflatten_names(message) == (
        "Undefined variable or function: 'request.amount' or resource.labels.env"
    )


def test_a_condition_that_rebinds_a_variable_is_not_flattened() -> None:
    checked = compile_condition("[1, 2].exists(request, request > 1)")
    assert checked.flat == ()
    assert checked.program.execute(cel.Context(variables={})) is True


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("", "empty"),
        ("request.a >", "invalid CEL at 1:12"),
        ("policy.x", "unknown variable(s) policy"),
        ("request.a.upperAscii() == 'A'", "unknown function(s) upperAscii"),
    ],
)
def test_conditions_are_checked_at_compile_time(expression: str, fragment: str) -> None:
    with pytest.raises(CelError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        compile_condition(expression)
