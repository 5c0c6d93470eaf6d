"""Evaluate agent actions and deployment plans against a compiled policy.

Every check runs and every violated rule is reported; deny beats require_approval beats
allow. Any error while evaluating denies (fail closed) with a reason that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policy_engine.domain.checks import (
    BudgetUsage,
    Outcome,
    check_autonomy,
    check_budgets,
    check_data,
    check_pii,
    check_rules,
    fail_closed,
)
from policy_engine.domain.compiler import CompiledPolicy
from policy_engine.domain.decision import DecisionResult
from policy_engine.domain.deployment import (
    DeploymentPlanInput,
    check_batches,
    check_freeze_windows,
    check_risk,
    deployment_variable,
)
from policy_engine.domain.risk import REFERENCE_COST_USD, ModelTier, risk_factors, weighted_risk
from policy_engine.domain.schema import DATA_CLASSES, DataClass

__all__ = [
    "AuthorizeInput",
    "BudgetUsage",
    "DeploymentPlanInput",
    "EvalContext",
    "evaluate",
    "evaluate_deployment",
    "fail_closed",
]

_DATA_RANK = {name: rank for rank, name in enumerate(DATA_CLASSES)}


@dataclass(frozen=True, slots=True)
class AuthorizeInput:
    """An action an agent asks to take (``POST /v1/authorize``)."""

    agency: str
    agent_id: str
    action_type: str
    resource: str = ""
    team: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    autonomy_level: int = 0
    """Autonomy the agent wants for this action, 0..4 (L0..L4)."""
    data_class: DataClass = "public"
    """Most sensitive data the action sends out."""
    destination: str | None = None
    estimated_cost_usd: float = 0.0
    estimated_tokens: int = 0
    deployment_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Free-form fields, visible to conditions as ``request``."""

    def __post_init__(self) -> None:
        if type(self.autonomy_level) is not int or not 0 <= self.autonomy_level <= 4:
            raise ValueError(f"autonomy_level must be 0..4, got {self.autonomy_level!r}")
        if self.data_class not in _DATA_RANK:
            raise ValueError(f"data_class must be one of {DATA_CLASSES}, got {self.data_class!r}")
        if self.estimated_cost_usd < 0 or self.estimated_tokens < 0:
            raise ValueError("estimated cost and tokens must not be negative")


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What the service knows besides the request: PII scan, budget usage, history, time."""

    now: datetime
    pii_entities_found: Mapping[str, int] = field(default_factory=dict)
    payload_oversize: bool = False
    payload_bytes: int | None = None
    budget: BudgetUsage = field(default_factory=BudgetUsage)
    recent_violations: int = 0

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """CEL takes dicts; other mappings are copied (dicts are not: binding never mutates)."""
    return mapping if type(mapping) is dict else dict(mapping)


def _authorize_variable(inp: AuthorizeInput, ctx: EvalContext, name: str) -> dict[str, Any]:
    """One documented CEL variable of an agent action (docs/policies.md#conditions-cel)."""
    if name == "action":
        optional = (
            ("model", inp.model),
            ("destination", inp.destination),
            ("deployment_id", inp.deployment_id),
        )
        return {
            "type": inp.action_type,
            "autonomy_level": inp.autonomy_level,
            "data_class": inp.data_class,
            "estimated_cost_usd": float(inp.estimated_cost_usd),
            "estimated_tokens": inp.estimated_tokens,
        } | {key: value for key, value in optional if value is not None}
    if name == "resource":  # no copies: binding never mutates what it reads
        return {"id": inp.resource, "labels": _plain(inp.labels)}
    if name == "agent":
        agent: dict[str, Any] = {
            "id": inp.agent_id,
            "agency": inp.agency,
            "recent_violations": ctx.recent_violations,
        }
        if inp.team is not None:
            agent["team"] = inp.team
        return agent
    if name == "request":
        return _plain(inp.extra)
    return {
        "now": ctx.now,
        "pii": _plain(ctx.pii_entities_found),
        "payload_oversize": ctx.payload_oversize,
        "budget": ctx.budget.as_tree(),
    }


def evaluate(compiled: CompiledPolicy, inp: AuthorizeInput, ctx: EvalContext) -> DecisionResult:
    """The decision on one agent action, with every reason; never raises (fails closed)."""
    try:
        return _evaluate(compiled, inp, ctx)
    except Exception as exc:  # fail closed
        return fail_closed(f"{type(exc).__name__}: {exc}")


def _evaluate(compiled: CompiledPolicy, inp: AuthorizeInput, ctx: EvalContext) -> DecisionResult:
    out = Outcome()
    verdict = compiled.model_verdict(inp.model) if inp.model else None
    if verdict is not None:
        out.reasons.extend(verdict.reasons)
    check_autonomy(compiled, inp.action_type, inp.autonomy_level, out)
    rank = _DATA_RANK[inp.data_class]
    if rank:
        limits = compiled.data_limits("action", inp.action_type)
        if compiled.data_ceiling is not None:
            limits = (compiled.data_ceiling, *limits)
        if inp.model:
            limits += compiled.data_limits("model", inp.model)
        if inp.destination:
            limits += compiled.data_limits("destination", inp.destination)
        check_data(compiled, limits, inp.data_class, rank, out)
    if ctx.pii_entities_found or ctx.payload_oversize:
        check_pii(compiled, ctx.pii_entities_found, ctx.payload_oversize, ctx.payload_bytes, out)
    if compiled.budgets:
        check_budgets(
            compiled, ctx.budget, inp.estimated_cost_usd, inp.estimated_tokens, ctx.now, out
        )
    check_rules(
        compiled,
        inp.action_type,
        inp.resource,
        inp.labels,
        lambda name: _authorize_variable(inp, ctx, name),
        out,
    )
    budget = compiled.smallest_usd_budget
    if budget is None:
        cost_ratio = inp.estimated_cost_usd / REFERENCE_COST_USD
    else:
        cost_ratio = (
            inp.estimated_cost_usd / budget if budget > 0 else float(inp.estimated_cost_usd > 0)
        )
    factors = risk_factors(
        autonomy_level=inp.autonomy_level,
        data_class=inp.data_class,
        cost_ratio=cost_ratio,
        model_tier=verdict.tier if verdict is not None else ModelTier.APPROVED,
        recent_violations=ctx.recent_violations,
    )
    return out.result(weighted_risk(factors), factors)


def evaluate_deployment(compiled: CompiledPolicy, plan: DeploymentPlanInput) -> DecisionResult:
    """The verdict on a deployment plan (batch size, config changes, freezes, risk, rules)."""
    try:
        return _evaluate_deployment(compiled, plan)
    except Exception as exc:  # fail closed
        return fail_closed(f"{type(exc).__name__}: {exc}")


def _evaluate_deployment(compiled: CompiledPolicy, plan: DeploymentPlanInput) -> DecisionResult:
    out = Outcome()
    check_batches(compiled, plan, out)
    check_freeze_windows(compiled, plan, out)
    if plan.model:
        out.reasons.extend(compiled.model_verdict(plan.model).reasons)
    labels = {"service": plan.service, "environment": plan.environment, **plan.labels}
    check_rules(
        compiled,
        "deploy",
        f"{plan.service}/{plan.environment}",
        labels,
        lambda name: deployment_variable(plan, labels, name),
        out,
    )
    risk, factors = check_risk(compiled, plan, out)
    return out.result(risk, factors)
