"""Action rules compiled for evaluation: matchers, CEL programs, prebuilt reasons."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import cel

from policy_engine.domain.conditions.expr import FieldNeeds, FlatField, compile_condition
from policy_engine.domain.decisions.decision import (
    APPROVAL_REQUIRED,
    RULE_DENIED,
    Reason,
    Severity,
    docs_url,
)
from policy_engine.domain.document.effective import EffectivePolicy, Provenance
from policy_engine.domain.document.glob import compile_globs, is_literal
from policy_engine.domain.document.schema import Approval, Rule, RuleEffect, duration_seconds

DEFAULT_APPROVER_ROLES: tuple[str, ...] = ("approver",)
DEFAULT_APPROVAL_EXPIRY = "24h"
_DEFAULT_SEVERITY: dict[str, Severity] = {"deny": "high", "require_approval": "medium"}


@dataclass(frozen=True, slots=True)
class ApprovalSpec:
    roles: tuple[str, ...]
    quorum: int
    expires_in_s: int


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    source: Provenance
    effect: RuleEffect
    resources: re.Pattern[str] | None
    labels: tuple[tuple[str, re.Pattern[str]], ...]
    condition: cel.Program | None
    condition_source: str | None
    needs: FieldNeeds
    flat: tuple[FlatField, ...]
    reason: Reason
    """The reason reported when the rule fires (it does not depend on the request)."""
    approval: ApprovalSpec | None

    def applies_to(self, resource: str, labels: Mapping[str, str]) -> bool:
        if self.resources is not None and self.resources.match(resource) is None:
            return False
        return labels_match(self.labels, labels)


def labels_match(
    patterns: tuple[tuple[str, re.Pattern[str]], ...], labels: Mapping[str, str]
) -> bool:
    """Every label of ``patterns`` is present and matches."""
    for key, pattern in patterns:
        value = labels.get(key)
        if value is None or pattern.match(value) is None:
            return False
    return True


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules that may apply to one action type, and what their conditions read."""

    rules: tuple[CompiledRule, ...]
    needs: FieldNeeds
    flat: tuple[FlatField, ...]


def _rule_reason(rule: Rule, source: Provenance) -> Reason:
    rule_id, effect = rule.id, rule.effect
    code = RULE_DENIED if effect == "deny" else APPROVAL_REQUIRED
    if rule.condition:
        counterfactual = f"change the request so that `{rule.condition}` is false"
    else:
        counterfactual = "use an action, resource or labels this rule does not match"
    if effect == "require_approval":
        counterfactual += ", or obtain the approval"
    return Reason(
        code=code,
        severity=rule.severity or _DEFAULT_SEVERITY[effect],
        effect=effect,
        message=rule.message,
        remediation=rule.remediation,
        docs_url=docs_url(code),
        rule_id=rule_id,
        policy=source.policy,
        version=source.version,
        layer=source.layer,
        counterfactual=counterfactual,
    )


def approval_spec(approval: Approval | None) -> ApprovalSpec:
    if approval is None:
        return ApprovalSpec(DEFAULT_APPROVER_ROLES, 1, duration_seconds(DEFAULT_APPROVAL_EXPIRY))
    return ApprovalSpec(
        tuple(approval.roles), approval.quorum, duration_seconds(approval.expires_in)
    )


def compile_rules(effective: EffectivePolicy) -> tuple[CompiledRule, ...]:
    compiled = []
    for sourced in effective.rules:
        rule, source = sourced.rule, sourced.source
        checked = compile_condition(rule.condition) if rule.condition else None
        compiled.append(
            CompiledRule(
                id=rule.id,
                source=source,
                effect=rule.effect,
                resources=compile_globs(rule.match.resources) if rule.match.resources else None,
                labels=tuple(
                    (key, compile_globs((value,))) for key, value in rule.match.labels.items()
                ),
                condition=checked.program if checked else None,
                condition_source=rule.condition,
                needs=checked.needs if checked else {},
                flat=checked.flat if checked else (),
                reason=_rule_reason(rule, source),
                approval=approval_spec(rule.approval)
                if rule.effect == "require_approval"
                else None,
            )
        )
    return tuple(compiled)


def action_index(
    effective: EffectivePolicy,
) -> tuple[dict[str, tuple[int, ...]], tuple[tuple[re.Pattern[str], int], ...]]:
    exact: dict[str, list[int]] = {}
    wildcard: list[tuple[re.Pattern[str], int]] = []
    for index, sourced in enumerate(effective.rules):
        patterns = sourced.rule.match.actions
        for pattern in patterns:
            if is_literal(pattern):
                exact.setdefault(pattern, []).append(index)
        globs = tuple(p for p in patterns if not is_literal(p))
        if globs:
            wildcard.append((compile_globs(globs), index))
    return {k: tuple(v) for k, v in exact.items()}, tuple(wildcard)
