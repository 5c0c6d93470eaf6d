"""The same policy in Cedar (``cedarpy``), and the decision cross-check between the engines.

Translation (from the effective policy, so built-in defaults count as they do for us): one
``permit(principal, action, resource);`` lets everything through, and every rule that can
block becomes one ``forbid`` annotated ``@id("<our rule_id>")`` and ``@effect("deny" |
"require_approval")``. Cedar answers Allow or Deny and, on Deny, lists every forbid that was
satisfied; the three-way decision is read from those: none → allow, any with effect deny →
deny, otherwise require_approval (the approval itself has no Cedar counterpart). Masking
(PII ``mask``, oversize ``mask_all``) and budget alerts never change a decision, so they have
no forbid.

Mapping of the request (:func:`cedar_request`): principal ``Agent::"<agent_id>"``, action
``Action::"<action type>"``, resource ``Resource::"<resource>"`` with attribute ``path``;
everything else is in ``context`` — ``autonomy`` (0..4), ``data_rank`` (0 public ..
3 restricted) and ``data_class``, ``model`` / ``destination`` when given, ``cost_cents`` and
``tokens`` (Cedar has no floating point: money is in whole cents), ``usage`` (budget used so
far, cents / tokens), ``pii`` (count per entity, 0 when none), ``payload_oversize``,
``recent_violations``, ``labels`` and ``request`` (the free-form fields CEL sees as
``request``).

- action globs (rules, per-action autonomy and data limits) are Cedar action groups: each
  action entity lists the glob groups it belongs to as parents, and a rule's scope is
  ``action in [Action::"db.drop", Action::"prod.*"]``;
- model, destination, resource and label globs become ``like`` patterns (``*`` only);
- each CEL condition is translated by hand (``CEDAR_CONDITIONS``);
- ordered limits compare ranks: ``context.autonomy > 2``, ``context.data_rank > 1``;
- budgets: ``context.usage.agent_daily_usd + context.cost_cents > 2500``.

Semantics that differ and are kept out of the requests: a CEL condition that errors makes us
deny (fail closed) where Cedar skips the policy, so every condition here reads fields the
requests carry or guards them with ``has``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy

from benchmarks.policy_cases import Case
from policy_engine.domain.decisions.decision import Decision, DecisionResult
from policy_engine.domain.document.effective import EffectivePolicy
from policy_engine.domain.document.glob import compile_globs, is_literal
from policy_engine.domain.document.limits import BUDGET_KEYS
from policy_engine.domain.document.loader import format_path
from policy_engine.domain.document.schema import AUTONOMY_LEVELS, DATA_CLASSES, PII_ENTITIES

_DATA_RANK = {name: rank for rank, name in enumerate(DATA_CLASSES)}
_ANY = "principal, action, resource"


def _string(text: str) -> str:
    """A Cedar string literal."""
    if any(ord(ch) < 0x20 for ch in text):
        raise ValueError(f"control character in {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _like(glob: str) -> str:
    """A Cedar ``like`` pattern for a glob made of literal characters and ``*``."""
    if any(ch in glob for ch in "?["):
        raise ValueError(f"glob {glob!r}: only * translates to a Cedar like pattern")
    return _string(glob)


def _any_like(expr: str, globs: Iterable[str]) -> str:
    parts = [f"{expr} like {_like(glob)}" for glob in globs]
    return "(" + " || ".join(parts) + ")" if len(parts) > 1 else parts[0]


def _action(pattern: str) -> str:
    return f"Action::{_string(pattern)}"


def _scope(actions: Sequence[str] | None) -> str:
    if actions is None:
        return _ANY
    if len(actions) == 1:
        return f"principal, action in {_action(actions[0])}, resource"
    return f"principal, action in [{', '.join(_action(a) for a in actions)}], resource"


@dataclass(frozen=True)
class CedarPolicy:
    """Cedar text of an effective policy, with the effect of each forbid by rule id."""

    text: str
    effects: Mapping[str, str]
    action_globs: tuple[str, ...]
    """Action globs used as groups; every action entity needs its groups as parents."""

    @property
    def rules(self) -> int:
        return len(self.effects)


class _Builder:
    def __init__(self) -> None:
        self.parts = ['@id("permit-all")\npermit (principal, action, resource);']
        self.effects: dict[str, str] = {}
        self.action_globs: dict[str, None] = {}

    def forbid(
        self,
        rule_id: str,
        when: Sequence[str],
        *,
        actions: Sequence[str] | None = None,
        effect: str = "deny",
    ) -> None:
        if rule_id in self.effects:
            raise ValueError(f"rule id {rule_id!r} is translated twice")
        self.effects[rule_id] = effect
        for pattern in actions or ():
            if not is_literal(pattern):
                self.action_globs[pattern] = None
        body = f" when {{ {' && '.join(when)} }}" if when else ""
        self.parts.append(
            f"@id({_string(rule_id)})\n@effect({_string(effect)})\n"
            f"forbid ({_scope(actions)}){body};"
        )


def translate(effective: EffectivePolicy, conditions: Mapping[str, str]) -> CedarPolicy:
    """Cedar policies equivalent to ``effective``'s blocking rules (see the module doc)."""
    b = _Builder()
    for allow in effective.model_allow:
        allowed = f"!{_any_like('context.model', allow.value)}" if allow.value else "true"
        b.forbid("models.allow", ["context has model", allowed])
    for deny in effective.model_deny:
        b.forbid(
            format_path(("models", "deny", deny.value)),
            ["context has model", f"context.model like {_like(deny.value)}"],
        )
    ceiling = effective.scalars.get("autonomy.ceiling")
    if ceiling is not None:
        b.forbid("autonomy.ceiling", [f"context.autonomy > {AUTONOMY_LEVELS.index(ceiling.value)}"])
    for limit in effective.glob_limits["autonomy.actions"]:
        b.forbid(
            format_path(("autonomy", "actions", limit.pattern)),
            [f"context.autonomy > {AUTONOMY_LEVELS.index(limit.value)}"],
            actions=[limit.pattern],
        )
    top = effective.scalars.get("data.max_class")
    if top is not None:
        b.forbid("data.max_class", [f"context.data_rank > {_DATA_RANK[top.value]}"])
    for limit in effective.glob_limits["data.actions"]:
        b.forbid(
            format_path(("data", "actions", limit.pattern)),
            [f"context.data_rank > {_DATA_RANK[limit.value]}"],
            actions=[limit.pattern],
        )
    for family, key in (("models", "model"), ("destinations", "destination")):
        for limit in effective.glob_limits[f"data.{family}"]:
            b.forbid(
                format_path(("data", family, limit.pattern)),
                [
                    f"context has {key}",
                    f"context.{key} like {_like(limit.pattern)}",
                    f"context.data_rank > {_DATA_RANK[limit.value]}",
                ],
            )
    for entity in PII_ENTITIES:
        if effective.value(f"pii.entities.{entity}") == "deny":
            b.forbid(f"pii.entities.{entity}", [f"context.pii.{entity} > 0"])
    if effective.value("pii.on_oversize") == "deny":
        b.forbid("pii.on_oversize", ["context.payload_oversize"])
    for scope, period, unit in BUDGET_KEYS:
        path = f"budgets.{scope}.{period}.{unit}"
        item = effective.scalars.get(path)
        if item is None:
            continue
        cap = round(float(item.value) * 100) if unit == "usd" else int(item.value)
        if unit == "usd" and abs(cap - float(item.value) * 100) > 1e-6:
            raise ValueError(f"{path}: {item.value} is not a whole number of cents")
        spent = f"context.usage.{scope}_{period}_{unit}"
        request = "context.cost_cents" if unit == "usd" else "context.tokens"
        b.forbid(path, [f"{spent} + {request} > {cap}"])
    for sourced in effective.rules:
        rule = sourced.rule
        when: list[str] = []
        if rule.match.resources is not None:
            when.append(_any_like("resource.path", rule.match.resources))
        for key, glob in rule.match.labels.items():
            when += [
                f"context.labels has {_string(key)}",
                f"context.labels[{_string(key)}] like {_like(glob)}",
            ]
        if rule.condition is not None:
            try:
                when.append(f"({conditions[rule.condition]})")
            except KeyError:
                raise ValueError(
                    f"rule {rule.id}: no Cedar translation of {rule.condition!r}"
                ) from None
        b.forbid(rule.id, when, actions=list(rule.match.actions), effect=rule.effect)
    return CedarPolicy("\n\n".join(b.parts) + "\n", dict(b.effects), tuple(b.action_globs))


# --------------------------------------------------------------------------- entities, requests


def _uid(kind: str, name: str) -> dict[str, str]:
    return {"type": kind, "id": name}


def cedar_entities(policy: CedarPolicy, cases: Sequence[Case]) -> list[dict[str, Any]]:
    """The entity store: agents, resources, and actions with their glob groups as parents."""
    groups = [(glob, compile_globs((glob,))) for glob in policy.action_globs]
    entities: list[dict[str, Any]] = [
        {"uid": _uid("Action", glob), "attrs": {}, "parents": []} for glob, _ in groups
    ]
    for action in dict.fromkeys(case.action_type for case in cases):
        parents = [_uid("Action", glob) for glob, regex in groups if regex.match(action)]
        entities.append({"uid": _uid("Action", action), "attrs": {}, "parents": parents})
    entities += [
        {"uid": _uid("Agent", agent), "attrs": {"agency": "bench"}, "parents": []}
        for agent in dict.fromkeys(case.agent_id for case in cases)
    ]
    entities += [
        {"uid": _uid("Resource", resource), "attrs": {"path": resource}, "parents": []}
        for resource in dict.fromkeys(case.resource for case in cases)
    ]
    return entities


def _cents(usd: float) -> int:
    return round(usd * 100)


def cedar_request(case: Case) -> dict[str, Any]:
    ctx = case.eval_context()
    usage = ctx.budget
    context: dict[str, Any] = {
        "autonomy": case.autonomy,
        "data_rank": _DATA_RANK[case.data_class],
        "data_class": case.data_class,
        "cost_cents": _cents(case.cost_usd),
        "tokens": case.tokens,
        "usage": {
            f"{scope}_{period}_{unit}": _cents(getattr(usage, f"{scope}_{period}_{unit}"))
            if unit == "usd"
            else getattr(usage, f"{scope}_{period}_{unit}")
            for scope, period, unit in BUDGET_KEYS
        },
        "pii": {entity: case.pii.get(entity, 0) for entity in PII_ENTITIES},
        "payload_oversize": case.oversize,
        "recent_violations": case.recent_violations,
        "labels": dict(case.labels),
        "request": dict(case.extra),
    }
    if case.model is not None:
        context["model"] = case.model
    if case.destination is not None:
        context["destination"] = case.destination
    return {
        "principal": _uid("Agent", case.agent_id),
        "action": _uid("Action", case.action_type),
        "resource": _uid("Resource", case.resource),
        "context": context,
    }


@dataclass(frozen=True)
class CedarEngine:
    """Parsed once, as a Cedar deployment would: the policy set and the entity store."""

    policy: CedarPolicy
    policy_set: cedarpy.PolicySet
    entities: cedarpy.Entities

    @classmethod
    def build(cls, policy: CedarPolicy, cases: Sequence[Case]) -> CedarEngine:
        return cls(
            policy,
            cedarpy.PolicySet.from_str(policy.text),
            cedarpy.Entities.from_json_str(json.dumps(cedar_entities(policy, cases))),
        )

    def authorize(self, request: dict[str, Any]) -> cedarpy.AuthzResult:
        """One decision, with the public single-request call on the pre-parsed handles."""
        return cedarpy.is_authorized(request, self.policy_set, self.entities)


# ------------------------------------------------------------------------------- cross-check


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    rules: frozenset[str]
    """Ids of the rules that block (deny or require approval)."""


def ours(result: DecisionResult) -> Outcome:
    return Outcome(
        result.decision,
        frozenset(r.rule_id or r.code for r in result.reasons if r.blocking),
    )


def theirs(result: cedarpy.AuthzResult, effects: Mapping[str, str]) -> Outcome:
    diagnostics = result.diagnostics
    if diagnostics.errors:
        raise ValueError(f"Cedar evaluation errors: {diagnostics.errors}")
    if result.allowed:
        return Outcome("allow", frozenset())
    names = diagnostics.id_annotations_by_reason
    fired = frozenset(names.get(policy_id, policy_id) for policy_id in diagnostics.reasons)
    unknown = fired - effects.keys()
    if unknown or not fired:
        raise ValueError(f"Cedar denied by {sorted(unknown) or 'no policy'}")
    decision: Decision = (
        "deny" if any(effects[rule] == "deny" for rule in fired) else "require_approval"
    )
    return Outcome(decision, fired)


def mismatches(
    cases: Sequence[Case], ours_: Sequence[Outcome], theirs_: Sequence[Outcome]
) -> list[str]:
    """Every request whose decision or set of blocking rules differs between the engines."""
    return [
        f"{case.name}: ours {a.decision} {sorted(a.rules)} ≠ cedar {b.decision} {sorted(b.rules)}"
        for case, a, b in zip(cases, ours_, theirs_, strict=True)
        if a != b
    ]
