"""The value types of plans: what an agent-action decision precomputes per action type and model."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cel
from cachetools import LRUCache

from policy_engine.domain.conditions.fast import Fast
from policy_engine.domain.decisions.decision import ApprovalRequirement, Reason
from policy_engine.domain.decisions.inputs import AuthorizeInput, EvalContext
from policy_engine.domain.decisions.rules import CompiledRule

#: Builds one documented CEL variable (action, resource, agent, request, context) in full.
VariableOf = Callable[["AuthorizeInput", "EvalContext", str], dict[str, Any]]
#: Reasons by autonomy level (0..4) or data-class rank (0..3).
ByRank = tuple[tuple[Reason, ...], ...]
BindFunction = Callable[["AuthorizeInput", "EvalContext"], tuple[dict[str, Any], bool]]


#: One rule unpacked for the hot loop: its resource matcher, label patterns, condition and
#: its Python shortcut, reason, the approval it requires alone (if it does), and the rule.
RuleEntry = tuple[
    "Callable[[str], re.Match[str] | None] | None",
    tuple[tuple[str, "re.Pattern[str]"], ...],
    "cel.Program | None",
    Fast | None,
    Reason,
    ApprovalRequirement | None,
    CompiledRule,
]


@dataclass(frozen=True, slots=True)
class ActionPlan:
    """Everything about an action type that does not depend on the rest of the request."""

    autonomy: ByRank
    """Reasons by requested autonomy level."""
    data: ByRank
    """Data-class reasons of the ceiling and the action's limits, by data-class rank."""
    rules: tuple[RuleEntry, ...]
    bind: BindFunction
    """The CEL variables the rules' conditions read, and whether all are resolvable."""


@dataclass(frozen=True, slots=True)
class ModelPlan:
    reasons: tuple[Reason, ...]
    tier_factor: float
    data: ByRank


PLAN_LIMIT = 4096
"""Plans kept per compiled policy and kind (action types, models, destinations come from
requests: the least recently used plan goes first)."""


@dataclass(frozen=True, slots=True)
class Plans:
    """The plan cache of one compiled policy: what its decisions precomputed, by key.

    The compiled policy holds it; only ``plans`` computes and stores plans (the evaluator
    reads them, hits first).
    """

    actions: LRUCache[str, ActionPlan] = field(default_factory=lambda: LRUCache(PLAN_LIMIT))
    models: LRUCache[str, ModelPlan] = field(default_factory=lambda: LRUCache(PLAN_LIMIT))
    destinations: LRUCache[str, ByRank] = field(default_factory=lambda: LRUCache(PLAN_LIMIT))
    """Data-class reasons by destination, by data-class rank."""
    rules: LRUCache[tuple[int, ...], tuple[tuple[RuleEntry, ...], BindFunction]] = field(
        default_factory=lambda: LRUCache(PLAN_LIMIT)
    )
    """The rules' part of action plans, by the rules that apply (the ids of the rules)."""
