"""Evaluate agent actions and deployment plans against a compiled policy.

Every check runs and every violated rule is reported; deny beats require_approval beats
allow. Any error while evaluating denies (fail closed) with a reason that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cel

from policy_engine.domain.conditions.expr import cel_context
from policy_engine.domain.decisions.checks import (
    Outcome,
    check_budgets,
    check_pii,
    check_rules,
    evaluation_error,
    fail_closed,
    merge_requirements,
)
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.decision import (
    ApprovalRequirement,
    Decision,
    DecisionResult,
    Reason,
)
from policy_engine.domain.decisions.deployment import (
    DeploymentPlanInput,
    check_batches,
    check_freeze_windows,
    check_risk,
    deployment_variable,
)
from policy_engine.domain.decisions.inputs import AuthorizeInput, EvalContext
from policy_engine.domain.decisions.plan_types import ActionPlan
from policy_engine.domain.decisions.plans import (
    action_plan,
    destination_data,
    model_plan,
)
from policy_engine.domain.decisions.risk import REFERENCE_COST_USD, scored_factors
from policy_engine.domain.decisions.rules import labels_match
from policy_engine.domain.document.schema import DATA_CLASSES

_DATA_RANK = {name: rank for rank, name in enumerate(DATA_CLASSES)}
_new_result = tuple.__new__


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
    # The hot path: what does not depend on the whole request comes from memoised plans
    # (see plans.py), and the decision is built from plain lists.
    action_type = inp.action_type
    plans = compiled.plans
    plan = plans.actions.get(action_type)
    if plan is None:
        plan = action_plan(compiled, action_type, _authorize_variable)
    reasons: list[Reason] = []
    model = inp.model
    model_factor = 0.0  # ModelTier.APPROVED
    if model:
        model_found = plans.models.get(model) or model_plan(compiled, model)
        reasons += model_found.reasons
        model_factor = model_found.tier_factor
    reasons += plan.autonomy[inp.autonomy_level]
    rank = _DATA_RANK[inp.data_class]
    if rank:
        reasons += plan.data[rank]
        if model:
            reasons += model_found.data[rank]
        destination = inp.destination
        if destination:
            by_rank = plans.destinations.get(destination)
            if by_rank is None:
                by_rank = destination_data(compiled, destination)
            reasons += by_rank[rank]
    masked: tuple[str, ...] | list[str] = ()
    mask_all = False
    if ctx.pii_entities_found or ctx.payload_oversize:
        masked, mask_all = check_pii(
            compiled,
            ctx.pii_entities_found,
            ctx.payload_oversize,
            ctx.payload_bytes,
            reasons,
            fields=ctx.pii_fields,
            oversize_fields=ctx.oversize_fields,
        )
    alerts = None
    if compiled.budgets:
        alerts = check_budgets(
            compiled, ctx.budget, inp.estimated_cost_usd, inp.estimated_tokens, ctx.now, reasons
        )
    approvals: list[ApprovalRequirement] | None = None
    if plan.rules:
        approvals = _check_rules(plan, inp, ctx, reasons)
    budget = compiled.smallest_usd_budget
    if budget is None:
        cost_ratio = inp.estimated_cost_usd / REFERENCE_COST_USD
    else:
        cost_ratio = (
            inp.estimated_cost_usd / budget if budget > 0 else float(inp.estimated_cost_usd > 0)
        )
    risk, factors = scored_factors(
        inp.autonomy_level, rank, cost_ratio, model_factor, ctx.recent_violations
    )
    decision: Decision = "allow"
    for reason in reasons:
        effect = reason.effect
        if effect == "deny":
            decision = "deny"
            break
        if effect == "require_approval":
            decision = "require_approval"
    # DecisionResult(...) without its Python-level __new__ (a third of the cost): the same
    # tuple, every field in order
    return _new_result(
        DecisionResult,
        (
            decision,
            risk,
            tuple(reasons),
            merge_requirements(approvals)
            if approvals is not None and decision == "require_approval"
            else None,
            tuple(masked),
            mask_all,
            tuple(alerts) if alerts is not None and decision == "allow" else (),
            factors,
        ),
    )


def _check_rules(
    plan: ActionPlan, inp: AuthorizeInput, ctx: EvalContext, reasons: list[Reason]
) -> list[ApprovalRequirement] | None:
    """Appends the reason of every rule that fires; returns the approvals they require."""
    approvals: list[ApprovalRequirement] | None = None
    resource = inp.resource
    bound: dict[str, Any] | None = None
    scalar = False
    context: cel.Context | None = None
    for resources, labels, condition, fast, reason, approval, rule in plan.rules:
        if resources is not None and resources(resource) is None:
            continue
        if labels and not labels_match(labels, inp.labels):
            continue
        if condition is not None:
            try:
                if bound is None:
                    bound, scalar = plan.bind(inp, ctx)
                # the shortcut answers only when CEL would answer the same, without error
                fired = fast(bound) if fast is not None and scalar else None
                if fired is None:
                    if context is None:
                        context = cel_context(bound, scalar)
                    fired = condition.execute(context)
            except Exception as exc:  # fail closed: a rule that cannot be evaluated denies
                reasons.append(evaluation_error(rule, exc))
                continue
            if fired is False:
                continue
            if fired is not True:
                reasons.append(evaluation_error(rule, TypeError(f"returned {fired!r}, not a bool")))
                continue
        reasons.append(reason)
        if approval is not None:
            if approvals is None:
                approvals = []
            approvals.append(approval)
    return approvals


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
