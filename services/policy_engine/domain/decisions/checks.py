"""The individual checks of an evaluation; each appends its reasons (to a list or an Outcome)."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import cel
from cachetools import LRUCache

from policy_engine.domain.conditions.expr import bind, unflatten_names
from policy_engine.domain.decisions.budget import exact, headroom, thresholds_crossed
from policy_engine.domain.decisions.compiler import (
    MEMO_LIMIT,
    BudgetLimit,
    CompiledPolicy,
    Limit,
    format_amount,
)
from policy_engine.domain.decisions.decision import (
    AUTONOMY_ABOVE_CEILING,
    BUDGET_EXCEEDED,
    BUDGET_THRESHOLD_CROSSED,
    DATA_CLASS_NOT_ALLOWED,
    NO_POLICY,
    PAYLOAD_MASKED,
    PAYLOAD_TOO_LARGE,
    PII_DENIED,
    PII_MASKED,
    POLICY_EVALUATION_ERROR,
    ApprovalRequirement,
    BudgetAlert,
    Decision,
    DecisionResult,
    Effect,
    Reason,
    Severity,
    Value,
    docs_url,
)
from policy_engine.domain.decisions.inputs import BudgetUsage
from policy_engine.domain.decisions.rules import ApprovalSpec, CompiledRule
from policy_engine.domain.document.effective import Provenance, Sourced
from policy_engine.domain.document.schema import PII_ENTITIES

_new_reason = tuple.__new__
_ENTITY_ORDER: dict[str, int] = {entity: index for index, entity in enumerate(PII_ENTITIES)}
#: Builds one documented CEL variable (action, resource, agent, request, context) in full.
VariableBuilder = Callable[[str], dict[str, Any]]


class Outcome:
    """Reasons, approvals, masking and alerts gathered while evaluating one request."""

    __slots__ = ("alerts", "approvals", "mask_all", "masked", "reasons")

    def __init__(self) -> None:
        self.reasons: list[Reason] = []
        self.approvals: list[tuple[str, ApprovalSpec]] = []
        self.masked: list[str] = []
        self.alerts: list[BudgetAlert] = []
        self.mask_all = False

    def add(self, reason: Reason, approval: ApprovalSpec | None = None) -> None:
        self.reasons.append(reason)
        if approval is not None and reason.effect == "require_approval":
            self.approvals.append((reason.rule_id or reason.code, approval))

    def result(self, risk: float, factors: dict[str, float]) -> DecisionResult:
        decision: Decision = "allow"
        for reason in self.reasons:
            if reason.effect == "deny":
                decision = "deny"
                break
            if reason.effect == "require_approval":
                decision = "require_approval"
        return DecisionResult(  # positional: measurably cheaper on the hot path
            decision,
            risk,
            tuple(self.reasons),
            merge_approvals(self.approvals) if decision == "require_approval" else None,
            tuple(self.masked),
            self.mask_all,
            tuple(self.alerts) if decision == "allow" else (),
            factors,
        )


def merge_approvals(approvals: list[tuple[str, ApprovalSpec]]) -> ApprovalRequirement:
    roles = tuple(dict.fromkeys(role for _, spec in approvals for role in spec.roles))
    return ApprovalRequirement(
        roles=roles,
        quorum=max(spec.quorum for _, spec in approvals),
        expires_in_s=min(spec.expires_in_s for _, spec in approvals),
        rule_ids=tuple(dict.fromkeys(rule_id for rule_id, _ in approvals)),
    )


def merge_requirements(requirements: list[ApprovalRequirement]) -> ApprovalRequirement:
    """``merge_approvals`` of the approvals behind ``requirements`` (one rule's each)."""
    if len(requirements) == 1:
        return requirements[0]
    return _merged(tuple(requirements))


@lru_cache(maxsize=1024)
def _merged(requirements: tuple[ApprovalRequirement, ...]) -> ApprovalRequirement:
    return ApprovalRequirement(
        roles=tuple(dict.fromkeys(role for req in requirements for role in req.roles)),
        quorum=max(req.quorum for req in requirements),
        expires_in_s=min(req.expires_in_s for req in requirements),
        rule_ids=tuple(dict.fromkeys(rule_id for req in requirements for rule_id in req.rule_ids)),
    )


def _reason(
    code: str,
    source: Provenance,
    rule_id: str,
    *,
    message: str,
    remediation: str,
    counterfactual: str,
    actual: Value = None,
    limit: Value = None,
    severity: Severity = "high",
    effect: Effect = "deny",
) -> Reason:
    # Reason(...) without its Python-level __new__ (reasons of budgets are built per
    # request): the same tuple, every field in order
    return _new_reason(
        Reason,
        (
            code,
            severity,
            effect,
            message,
            remediation,
            docs_url(code),
            rule_id,
            source.policy,
            source.version,
            source.layer,
            actual,
            limit,
            counterfactual,
        ),
    )


def _remember(compiled: CompiledPolicy, key: tuple[object, ...], reason: Reason) -> Reason:
    """Keep a reason that depends only on ``key`` (bounded, like every memo table)."""
    compiled.reasons[key] = reason
    return reason


def autonomy_reason(limit: Limit, level: int, action_type: str) -> Reason:
    return _reason(
        AUTONOMY_ABOVE_CEILING,
        limit.source,
        limit.rule_id,
        message=f"autonomy L{level} requested for '{action_type}' is above the "
        f"{limit.source.layer} ceiling {limit.shown}",
        remediation=f"run the action at autonomy {limit.shown} or lower "
        "(e.g. with human confirmation)",
        counterfactual=f"needs autonomy ≤ {limit.shown}",
        actual=f"L{level}",
        limit=limit.shown,
    )


def data_class_reason(limit: Limit, data_class: str) -> Reason:
    return _reason(
        DATA_CLASS_NOT_ALLOWED,
        limit.source,
        limit.rule_id,
        message=f"{data_class} data may not go out here ({limit.rule_id} allows at "
        f"most {limit.shown})",
        remediation=f"redact or aggregate the data down to {limit.shown}, or use "
        "another model / destination",
        counterfactual=f"reduce the data class to ≤ {limit.shown}",
        actual=data_class,
        limit=limit.shown,
    )


def check_pii(
    compiled: CompiledPolicy,
    found: Mapping[str, int],
    oversize: bool,
    payload_bytes: int | None,
    reasons: list[Reason],
    *,
    fields: Mapping[str, tuple[str, ...]] | None = None,
    oversize_fields: tuple[str, ...] = (),
) -> tuple[list[str], bool]:
    """Appends the PII reasons; returns the entities to mask and whether to mask everything.

    ``fields`` names, per entity, the request fields it was found in (``payload`` if absent).
    """
    masked: list[str] = []
    mask_all = oversize and _oversize(compiled, payload_bytes, oversize_fields, reasons)
    if mask_all:
        masked = list(PII_ENTITIES)
    for entity in sorted(found, key=lambda e: (_ENTITY_ORDER.get(e, len(_ENTITY_ORDER)), e)):
        count = found[entity]
        if count <= 0 or entity in masked:
            continue
        action = compiled.pii_action(entity)
        if action.value == "allow":
            continue
        if action.value == "mask":
            masked.append(entity)
        where = (fields.get(entity) if fields else None) or _PAYLOAD
        key = ("pii", entity, count, where)
        reasons.append(
            compiled.reasons.get(key)
            or _remember(compiled, key, _pii(entity, count, action, _named(where)))
        )
    return masked, mask_all


_PAYLOAD = ("payload",)


def _named(fields: tuple[str, ...]) -> str:
    """``the payload``, ``context``, ``action.resource and payload``."""
    names = [f"the {f}" if f == "payload" else f for f in fields]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _pii(entity: str, count: int, action: Sourced[str], where: str) -> Reason:
    rule_id = f"pii.entities.{entity}"
    if action.value == "deny":
        return _reason(
            PII_DENIED,
            action.source,
            rule_id,
            message=f"{count} {entity} value(s) found in {where}; the policy denies {entity}",
            remediation=f"remove the {entity} values from {where} before sending the request",
            counterfactual=f"remove the {count} {entity} value(s)",
            actual=count,
            limit=0,
        )
    return _reason(
        PII_MASKED,
        action.source,
        rule_id,
        message=f"{count} {entity} value(s) in {where} will be masked",
        remediation="none needed; send placeholders yourself to keep the text stable",
        counterfactual="none needed",
        actual=count,
        severity="info",
        effect="mask",
    )


def _oversize(
    compiled: CompiledPolicy,
    payload_bytes: int | None,
    fields: tuple[str, ...],
    reasons: list[Reason],
) -> bool:
    """Appends the reason for an oversize payload; True when all of it is to be masked."""
    limit = compiled.max_payload_bytes
    source = compiled.on_oversize.source
    where = _named(fields or _PAYLOAD)
    if compiled.on_oversize.value == "deny":
        reasons.append(
            _reason(
                PAYLOAD_TOO_LARGE,
                source,
                "pii.on_oversize",
                message=f"{where} is larger than {limit} bytes (or nested too deeply) and "
                "cannot be scanned for PII",
                remediation=f"send at most {limit} bytes per request",
                counterfactual=f"reduce the payload to ≤ {limit} bytes",
                actual=payload_bytes,
                limit=limit,
            )
        )
        return False
    reasons.append(
        _reason(
            PAYLOAD_MASKED,
            source,
            "pii.on_oversize",
            message=f"{where} is larger than {limit} bytes (or nested too deeply); all of it "
            "will be masked",
            remediation=f"send at most {limit} bytes to keep the payload readable",
            counterfactual=f"reduce the payload to ≤ {limit} bytes",
            actual=payload_bytes,
            limit=limit,
            severity="warning",
            effect="mask",
        )
    )
    return True


def check_budgets(
    compiled: CompiledPolicy,
    usage: BudgetUsage,
    cost_usd: float,
    tokens: int,
    now: datetime,
    reasons: list[Reason],
) -> list[BudgetAlert] | None:
    """Appends the reasons of exceeded / crossed budgets; returns the alerts (None: none): one
    per threshold crossed. Amounts are compared as decimals (see ``domain.budget``)."""
    thresholds = compiled.alert_thresholds
    alerts: list[BudgetAlert] | None = None
    for budget in compiled.budgets:
        spent = getattr(usage, budget.usage_field)
        amount = cost_usd if budget.unit == "usd" else tokens
        total = exact(spent) + exact(amount)
        after = float(total) if budget.unit == "usd" else int(total)
        if total > exact(budget.limit):
            reasons.append(_budget_exceeded(budget, spent, after, now))
            continue
        crossed = thresholds_crossed(thresholds, budget.limit, spent, total) if amount else ()
        if crossed:
            reasons.append(_threshold_crossed(budget, crossed[-1], after))
            if alerts is None:
                alerts = []
            alerts += [
                BudgetAlert(budget.scope, budget.period, budget.unit, t, spent, after, budget.limit)
                for t in crossed
            ]
    return alerts


def with_budget_alerts(
    result: DecisionResult, alerts: Sequence[BudgetAlert], compiled: CompiledPolicy
) -> DecisionResult:
    """``result`` with ``alerts`` (those its budget reservation crossed and claimed) in place of
    the ones evaluated on the usage read before it: a warning reason per budget, for the
    highest threshold crossed."""
    reasons = [r for r in result.reasons if r.code != BUDGET_THRESHOLD_CROSSED]
    highest: dict[tuple[str, str, str], BudgetAlert] = {}
    for alert in alerts:
        key = (alert.scope, alert.period, alert.unit)
        if key not in highest or alert.threshold > highest[key].threshold:
            highest[key] = alert
    for budget in compiled.budgets:
        top = highest.get((budget.scope, budget.period, budget.unit))
        if top is not None:
            reasons.append(_threshold_crossed(budget, top.threshold, top.used_after))
    return result._replace(reasons=tuple(reasons), budget_alerts=tuple(alerts))


_amount = format_amount


def _next_reset(period: str, now: datetime) -> datetime:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return start + timedelta(days=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start.replace(day=1) + timedelta(days=days)


_RESETS: LRUCache[tuple[str, int], str] = LRUCache(MEMO_LIMIT)
"""When a budget resets, shown in reasons, by (period, UTC day)."""


def _reset_text(period: str, now: datetime) -> str:
    day = (now if now.tzinfo is UTC else now.astimezone(UTC)).toordinal()
    text = _RESETS.get((period, day))  # once per budget reason: no need for speed
    if text is None:
        text = _next_reset(period, now).isoformat().replace("+00:00", "Z")
        _RESETS[period, day] = text
    return text


def _budget_exceeded(budget: BudgetLimit, spent: float, after: float, now: datetime) -> Reason:
    remaining = headroom(budget.unit, budget.limit, spent)
    reset = _reset_text(budget.period, now)
    if remaining > 0:
        what = "cost" if budget.unit == "usd" else "usage"
        counterfactual = f"reduce {what} to ≤ {_amount(budget.unit, float(remaining))}"
    else:
        counterfactual = f"wait until the {budget.period} budget resets at {reset}"
    return _reason(
        BUDGET_EXCEEDED,
        budget.source,
        budget.path,
        message=f"the {budget.scope} {budget.period} budget of {budget.shown} would be "
        f"exceeded ({_amount(budget.unit, after)} with this request)",
        remediation=f"lower the estimated usage, wait for the reset at {reset}, or ask a policy "
        "admin to raise the budget",
        counterfactual=counterfactual,
        actual=after,
        limit=budget.limit,
    )


def _threshold_crossed(budget: BudgetLimit, threshold: float, after: float) -> Reason:
    return _reason(
        BUDGET_THRESHOLD_CROSSED,
        budget.source,
        budget.path,
        message=f"the {budget.scope} {budget.period} {budget.unit} budget passes "
        f"{threshold:.0%} ({_amount(budget.unit, after)} of {budget.shown})",
        remediation="none needed now; plan for the hard limit",
        counterfactual="none needed",
        actual=after,
        limit=budget.limit,
        severity="warning",
        effect="alert",
    )


def check_rules(
    compiled: CompiledPolicy,
    action_type: str,
    resource: str,
    labels: Mapping[str, str],
    variables: VariableBuilder,
    out: Outcome,
) -> None:
    ruleset = compiled.rules_for(action_type)
    context: cel.Context | None = None
    for rule in ruleset.rules:
        # inlined CompiledRule.applies_to: this loop is the hot path
        if rule.resources is not None and rule.resources.match(resource) is None:
            continue
        if rule.labels and not rule.applies_to(resource, labels):
            continue
        if rule.condition is not None:
            try:
                if context is None:
                    context = cel.Context(variables=bind(ruleset.flat, ruleset.needs, variables))
                fired = rule.condition.execute(context)
            except Exception as exc:  # fail closed: a rule that cannot be evaluated denies
                out.add(evaluation_error(rule, exc))
                continue
            if fired is False:
                continue
            if fired is not True:
                out.add(evaluation_error(rule, TypeError(f"returned {fired!r}, not a bool")))
                continue
        out.add(rule.reason, rule.approval)


def _short(exc: BaseException) -> str:
    text = unflatten_names(str(exc).split(". ")[0].strip()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def evaluation_error(rule: CompiledRule, exc: BaseException) -> Reason:
    if isinstance(exc, KeyError) or "Undefined variable" in str(exc):
        remediation = (
            "send the field the condition reads, or guard it with has(...) in the condition"
        )
    elif isinstance(exc, TypeError):
        remediation = (
            "make the operand types match (CEL does not convert between int, double and "
            "string), in the request or in the condition"
        )
    else:
        remediation = "fix the rule's condition or the request fields it reads"
    return Reason(
        code=POLICY_EVALUATION_ERROR,
        severity="critical",
        effect="deny",
        message=f"rule '{rule.id}' could not be evaluated ({type(exc).__name__}: {_short(exc)}); "
        "the policy denies when it cannot be evaluated",
        remediation=remediation,
        docs_url=docs_url(POLICY_EVALUATION_ERROR),
        rule_id=rule.id,
        policy=rule.source.policy,
        version=rule.source.version,
        layer=rule.source.layer,
        counterfactual=f"make `{rule.condition_source}` evaluable to true or false",
    )


def fail_closed(message: str) -> DecisionResult:
    """A deny for a policy that could not be evaluated at all (no rule to blame)."""
    reason = Reason(
        code=POLICY_EVALUATION_ERROR,
        severity="critical",
        effect="deny",
        message=f"the policy could not be evaluated ({message}); it denies until it can be",
        remediation="check the request fields and the effective policy; a policy admin can "
        "simulate the request to see the failure",
        docs_url=docs_url(POLICY_EVALUATION_ERROR),
        counterfactual="none: fix the cause of the evaluation error",
    )
    return DecisionResult(decision="deny", risk_score=1.0, reasons=(reason,))


def no_policy(agency: str) -> DecisionResult:
    """The deny for an agency no policy may decide for (see ``inheritance.governs``)."""
    reason = Reason(
        code=NO_POLICY,
        severity="critical",
        effect="deny",
        message=f"agency {agency!r} has no policy of its own, and the org baseline does not "
        "admit agencies without one (or no org baseline is published): every action is denied",
        remediation=f"publish a policy for agency {agency!r} (PUT /v1/agencies/{agency}/policy, "
        f"or answer the wizard: /v1/agencies/{agency}/wizard), or have an org admin set "
        "spec.agencies_without_policy: baseline in the org baseline (PUT /v1/org/policy)",
        docs_url=docs_url(NO_POLICY),
        counterfactual=f"publish a policy for agency {agency!r}",
    )
    return DecisionResult(decision="deny", risk_score=1.0, reasons=(reason,))
