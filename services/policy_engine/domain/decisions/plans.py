"""What an agent-action decision precomputes per action type, model and destination.

Everything that does not depend on the rest of the request is built once per key and kept
in the compiled policy's plan cache (``CompiledPolicy.plans``, a ``Plans``: this module is the
only one that fills it): the autonomy and data-class reasons for every
level / class, the rules with their matchers unpacked, and a binder that reads exactly the
fields the conditions of those rules read straight from the request (no per-request copies
of the documented CEL variables).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, cast

from policy_engine.domain.conditions.expr import PLAIN_TYPES, FlatField, resolvable, utf8
from policy_engine.domain.conditions.fast import Fast, compile_fast
from policy_engine.domain.decisions.checks import (
    autonomy_reason,
    data_class_reason,
    merge_approvals,
)
from policy_engine.domain.decisions.compiler import CompiledPolicy, Limit, memoised
from policy_engine.domain.decisions.decision import Reason
from policy_engine.domain.decisions.plan_types import (
    ActionPlan,
    BindFunction,
    ByRank,
    ModelPlan,
    RuleEntry,
    VariableOf,
)
from policy_engine.domain.decisions.risk import MODEL_TIER_FACTOR
from policy_engine.domain.decisions.rules import CompiledRule, RuleSet
from policy_engine.domain.document.schema import AUTONOMY_LEVELS, DATA_CLASSES


class _Unbound:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNBOUND"


UNBOUND: Any = _Unbound()
"""A field the request does not have: left out of the CEL variables (reading it is an error)."""
_MISSING: dict[str, Any] = {}


def walk(root: Any, path: tuple[str, ...], presence: bool) -> Any:
    """``root.path`` (or, for ``presence``, whether its last key exists) as ``bind`` reads it."""
    value = root
    try:
        for key in path[:-1] if presence else path:
            value = value[key] if isinstance(value, dict | Mapping) else _MISSING[key]
    except KeyError:
        return UNBOUND
    if not presence:
        return value
    if isinstance(value, dict | Mapping):
        return path[-1] in value
    return UNBOUND


# Fields of the documented variables that are attributes of the request (or its context).
_ACTION = {
    "type": "action_type",
    "autonomy_level": "autonomy_level",
    "data_class": "data_class",
    "estimated_tokens": "estimated_tokens",
}
_ACTION_OPTIONAL = ("model", "destination", "deployment_id")
_AGENT = {"id": "agent_id", "agency": "agency"}
_CONTEXT_SCALARS = ("now", "payload_oversize")
_CONTEXT_KEYS = (*_CONTEXT_SCALARS, "pii", "budget")

#: How the binder reads one field: (how, what). ``inp`` / ``ctx``: an attribute (``inp?``:
#: bound unless None; ``inp_present``: whether it is not None); ``cost``: the cost as a
#: float; ``const``: a constant; ``get`` / ``has``: a key of ``extra`` or ``labels`` (or
#: whether it is there); ``whole``: all of it; ``walk``: a path inside it; ``variable``:
#: a path inside a documented variable built in full.
Recipe = tuple[str, Any]


def _scalar_recipe(variable: str, key: str) -> Recipe | None:
    """``variable.key`` of the flat scalar variables (action, agent); None for other keys."""
    if variable == "action":
        if key in _ACTION:
            return ("inp", _ACTION[key])
        if key == "estimated_cost_usd":
            return ("cost", None)
        if key in _ACTION_OPTIONAL:
            return ("inp?", key)
        return None
    if key in _AGENT:
        return ("inp", _AGENT[key])
    if key == "recent_violations":
        return ("ctx", "recent_violations")
    if key == "team":
        return ("inp?", "team")
    return None


def _mapping_recipe(source: str, path: tuple[str, ...], presence: bool) -> Recipe:
    """A field of a free-form mapping of the request (``extra``, ``labels``)."""
    if len(path) == 1:
        return ("has" if presence else "get", (source, path[0]))
    return ("walk", (source, path, presence))


def field_recipe(field: FlatField) -> Recipe | None:
    """How to read ``field`` from an agent action; None when it can never be bound.

    Equal, field by field, to walking the documented variable that the evaluator builds
    in full, as ``celexpr.bind`` does; only the fields read are computed.
    """
    variable, path, presence = field.variable, field.path, field.presence
    head, rest = path[0], path[1:]
    if variable in ("action", "agent"):  # values are str / int / float: nothing nested
        if rest:
            return None
        recipe = _scalar_recipe(variable, head)
        if not presence:
            return recipe
        if recipe is None:
            return ("const", False)
        if recipe[0] == "inp?":
            return ("inp_present", recipe[1])
        return ("const", True)
    if variable == "request":
        return _mapping_recipe("extra", path, presence)
    if variable == "resource":
        if head == "labels" and rest:
            return _mapping_recipe("labels", rest, presence)
        if rest:  # inside a string, or inside a key that does not exist
            return None
        if presence:
            return ("const", head in ("id", "labels"))
        if head == "id":
            return ("inp", "resource")
        if head == "labels":
            return ("whole", "labels")
        return None
    if variable == "context" and head in _CONTEXT_SCALARS:
        if rest:  # inside a datetime or a bool
            return None
        return ("const", True) if presence else ("ctx", head)
    if variable == "context" and head not in _CONTEXT_KEYS:
        return None if rest or not presence else ("const", False)
    return ("variable", (variable, path, presence))


#: Recipes whose value is always of a type CEL converts without fail.
_PLAIN_RECIPES = ("cost", "const", "inp_present", "has")
#: Recipes of the mappings of the request, read once into a local of the same name.
_MAPPING_RECIPES = ("get", "has", "whole", "walk")
#: When a recipe's value is bound.
_GUARDS = {
    "inp?": "value is not None",
    "get": "value is not _U",
    "walk": "value is not _U",
    "variable": "value is not _U",
}
_CHECK = (
    "kind = type(value)",
    "if kind is str:",
    "    if not value.isascii() and not _utf8(value):",
    "        scalar = False",
    "elif kind not in _PLAIN and not _resolvable(value):",
    "    scalar = False",
)


#: Binds the variables of one request: (inp, ctx) -> (variables, all resolvable).
def _plain(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping if type(mapping) is dict else dict(mapping)


@lru_cache(maxsize=1024)  # generating the function costs ~0.5 ms; conditions repeat
def binder(
    flat: tuple[FlatField, ...],
    needs: tuple[tuple[str, frozenset[str] | None], ...],
    variable_of: VariableOf,
) -> BindFunction:
    """The CEL variables of one request for a rule set (what ``celexpr.bind`` returns), and
    whether every value is resolvable (``celexpr.resolvable``).

    Generated as one Python function: a few attribute and dict reads per field. Names,
    keys and paths reach it as constants, never as source text.
    """
    constants: dict[str, Any] = {
        "_U": UNBOUND,
        "_PLAIN": PLAIN_TYPES,
        "_utf8": utf8,
        "_resolvable": resolvable,
        "_plain": _plain,
        "_walk": walk,
        "_variable_of": variable_of,
    }

    def constant(value: Any) -> str:
        name = f"_c{len(constants)}"
        constants[name] = value
        return name

    lines = ["bound = {}", "scalar = True"]
    loaded: set[str] = set()
    for field in flat:
        recipe = field_recipe(field)
        if recipe is None:
            continue
        how, what = recipe
        if how in _MAPPING_RECIPES:
            source = what if how == "whole" else what[0]
            if source not in loaded:  # where the first field of it is read, as bind does
                loaded.add(source)
                lines.append(f"{source} = _plain(inp.{source})")
        if how in ("inp", "inp?"):
            read = f"inp.{what}"
        elif how == "inp_present":
            read = f"inp.{what} is not None"
        elif how == "ctx":
            read = f"ctx.{what}"
        elif how == "cost":
            read = "float(inp.estimated_cost_usd)"
        elif how == "const":
            read = constant(what)
        elif how == "get":
            read = f"{what[0]}.get({constant(what[1])}, _U)"
        elif how == "has":
            read = f"{constant(what[1])} in {what[0]}"
        elif how == "whole":
            read = what
        elif how == "walk":
            read = f"_walk({what[0]}, {constant(what[1])}, {constant(what[2])})"
        else:
            variable, path, presence = what
            documented = f"_variable_of(inp, ctx, {constant(variable)})"
            read = f"_walk({documented}, {constant(path)}, {constant(presence)})"
        lines.append(f"value = {read}")
        body = [f"bound[{constant(field.name)}] = value"]
        if how not in _PLAIN_RECIPES:
            body += _CHECK
        guard = _GUARDS.get(how)
        lines += [f"if {guard}:", *(f"    {line}" for line in body)] if guard else body
    for name, keys in needs:
        lines += [
            f"full = _variable_of(inp, ctx, {constant(name)})",
            f"keys = {constant(keys)}",
            f"bound[{constant(name)}] = "
            "full if keys is None else {k: full[k] for k in keys if k in full}",
            "scalar = False",
        ]
    lines.append("return bound, scalar")
    source = "def bind(inp, ctx):\n" + "".join(f"    {line}\n" for line in lines)
    exec(compile(source, "<binder>", "exec"), constants)  # noqa: S102
    return cast(BindFunction, constants["bind"])


def _by_rank(
    limits: tuple[Limit, ...], ranks: int, reason: Callable[[Limit, int], Reason]
) -> ByRank:
    """For each rank below ``ranks``: the reasons of the limits it is above, in order."""
    return tuple(
        tuple(reason(limit, rank) for limit in limits if rank > limit.rank) for rank in range(ranks)
    )


def _data_by_rank(limits: tuple[Limit, ...]) -> ByRank:
    return _by_rank(
        limits, len(DATA_CLASSES), lambda limit, rank: data_class_reason(limit, DATA_CLASSES[rank])
    )


def action_plan(compiled: CompiledPolicy, action_type: str, variable_of: VariableOf) -> ActionPlan:
    return memoised(
        compiled.plans.actions,
        action_type,
        lambda key: _action_plan(compiled, key, variable_of),
    )


def _shortcut(rule: CompiledRule) -> Fast | None:
    if rule.condition is None:
        return None
    return compile_fast(rule.condition.source, frozenset(field.name for field in rule.flat))


def _action_plan(compiled: CompiledPolicy, action_type: str, variable_of: VariableOf) -> ActionPlan:
    data = compiled.data_limits("action", action_type)
    if compiled.data_ceiling is not None:
        data = (compiled.data_ceiling, *data)
    ruleset = compiled.rules_for(action_type)
    # action types matched by the same rules (e.g. by "*" only) share the rules' part
    entries, bind = memoised(
        compiled.plans.rules,
        tuple(map(id, ruleset.rules)),  # ids: the policy holds its rules while it lives
        lambda _key: _rule_plan(ruleset, variable_of),
    )
    return ActionPlan(
        autonomy=_by_rank(
            compiled.autonomy_limits(action_type),
            len(AUTONOMY_LEVELS),
            lambda limit, level: autonomy_reason(limit, level, action_type),
        ),
        data=_data_by_rank(data),
        rules=entries,
        bind=bind,
    )


def _rule_plan(
    ruleset: RuleSet, variable_of: VariableOf
) -> tuple[tuple[RuleEntry, ...], BindFunction]:
    entries = tuple(
        (
            rule.resources.match if rule.resources is not None else None,
            rule.labels,
            rule.condition,
            _shortcut(rule),
            rule.reason,
            merge_approvals([(rule.reason.rule_id or rule.reason.code, rule.approval)])
            if rule.approval is not None and rule.reason.effect == "require_approval"
            else None,
            rule,
        )
        for rule in ruleset.rules
    )
    return entries, binder(ruleset.flat, tuple(ruleset.needs.items()), variable_of)


def model_plan(compiled: CompiledPolicy, model: str) -> ModelPlan:
    return memoised(compiled.plans.models, model, lambda key: _model_plan(compiled, key))


def _model_plan(compiled: CompiledPolicy, model: str) -> ModelPlan:
    verdict = compiled.model_verdict(model)
    return ModelPlan(
        verdict.reasons,
        MODEL_TIER_FACTOR[verdict.tier],
        _data_by_rank(compiled.data_limits("model", model)),
    )


def destination_data(compiled: CompiledPolicy, destination: str) -> ByRank:
    return memoised(
        compiled.plans.destinations,
        destination,
        lambda key: _data_by_rank(compiled.data_limits("destination", key)),
    )
