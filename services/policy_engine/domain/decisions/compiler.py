"""Compile an effective policy into the in-memory form evaluated on the hot path.

Rules are indexed by exact action type with glob fallbacks, CEL programs are compiled once,
globs become anchored regexes, and per-key lookups (action type, model, destination) are
memoised in bounded tables, so a decision is a handful of dict hits and regex matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cachetools import LRUCache

from policy_engine.domain.conditions.expr import merge_needs
from policy_engine.domain.decisions.decision import (
    MODEL_DENIED,
    MODEL_NOT_ALLOWED,
    Reason,
    docs_url,
)
from policy_engine.domain.decisions.plan_types import Plans
from policy_engine.domain.decisions.risk import ModelTier, model_tier
from policy_engine.domain.decisions.rules import (
    DEFAULT_APPROVER_ROLES,
    ApprovalSpec,
    CompiledRule,
    RuleSet,
    action_index,
    compile_rules,
)
from policy_engine.domain.document.effective import EffectivePolicy, GlobLimit, Provenance, Sourced
from policy_engine.domain.document.glob import compile_globs
from policy_engine.domain.document.limits import (
    BUDGET_KEYS,
    BudgetPeriod,
    BudgetScopeName,
    BudgetUnit,
)
from policy_engine.domain.document.loader import format_path
from policy_engine.domain.document.schema import (
    DATA_CLASSES,
    PII_ENTITIES,
    FreezeWindow,
    autonomy_number,
    duration_seconds,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MEMO_LIMIT = 4096


def memo_table() -> LRUCache[Any, Any]:
    """A memo table bounded by evicting the least recently used entry: request values (action
    types, models) choose its keys, so it must not grow without bound."""
    return LRUCache(MEMO_LIMIT)


def memoised(memo: MutableMapping[K, V], key: K, compute: Callable[[K], V]) -> V:
    """``memo[key]``, computed on a miss."""
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = compute(key)
        return value


@dataclass(frozen=True, slots=True)
class Limit:
    """An ordered limit (autonomy level, data class): ``rank`` is comparable to the request."""

    rank: int
    shown: str
    rule_id: str
    source: Provenance


@dataclass(frozen=True, slots=True)
class BudgetLimit:
    scope: BudgetScopeName
    period: BudgetPeriod
    unit: BudgetUnit
    limit: float
    source: Provenance
    path: str
    usage_field: str
    """The BudgetUsage attribute holding what was spent so far."""
    shown: str
    """The limit as reasons show it (``format_amount``)."""


def format_amount(unit: str, value: float) -> str:
    """An amount of a budget as reasons show it: $1,234.50 or 1,234 tokens."""
    return f"${value:,.2f}" if unit == "usd" else f"{int(value):,} tokens"


@dataclass(frozen=True)
class DeploymentSettings:
    """What the rollout orchestrator reads: batch limits, health gates, rollback triggers."""

    max_agents_per_batch: int | None
    max_config_changes: int | None
    approval_above_risk: float | None
    max_error_rate: float
    max_latency_p99_ms: float
    min_healthy_fraction: float
    bake_time_s: int
    rollback_error_rate_above: float
    rollback_on_policy_violation: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_agents_per_batch": self.max_agents_per_batch,
            "max_config_changes": self.max_config_changes,
            "approval_above_risk": self.approval_above_risk,
            "health_gates": {
                "max_error_rate": self.max_error_rate,
                "max_latency_p99_ms": self.max_latency_p99_ms,
                "min_healthy_fraction": self.min_healthy_fraction,
                "bake_time_s": self.bake_time_s,
            },
            "rollback_triggers": {
                "error_rate_above": self.rollback_error_rate_above,
                "on_policy_violation": self.rollback_on_policy_violation,
            },
        }


def _glob_limits(
    limits: tuple[GlobLimit, ...], family: str, rank: Callable[[Any], int]
) -> tuple[tuple[re.Pattern[str], Limit], ...]:
    return tuple(
        (
            compile_globs((limit.pattern,)),
            Limit(
                rank(limit.value),
                str(limit.value),
                format_path((*family.split("."), limit.pattern)),
                limit.source,
            ),
        )
        for limit in limits
    )


def _ceiling(item: Sourced[Any] | None, path: str, rank: Callable[[Any], int]) -> Limit | None:
    if item is None:
        return None
    return Limit(rank(item.value), str(item.value), path, item.source)


def _matching(table: tuple[tuple[re.Pattern[str], Limit], ...], key: str) -> tuple[Limit, ...]:
    return tuple(limit for pattern, limit in table if pattern.match(key) is not None)


@dataclass
class CompiledPolicy:
    """The evaluator's view of an effective policy. Build it with ``compile_policy``."""

    effective: EffectivePolicy
    rules: tuple[CompiledRule, ...]
    exact_actions: dict[str, tuple[int, ...]]
    wildcard_actions: tuple[tuple[re.Pattern[str], int], ...]
    model_allow: tuple[tuple[re.Pattern[str], Sourced[tuple[str, ...]]], ...]
    model_deny: tuple[tuple[re.Pattern[str], Sourced[str]], ...]
    autonomy_ceiling: Limit | None
    autonomy_actions: tuple[tuple[re.Pattern[str], Limit], ...]
    data_ceiling: Limit | None
    data_actions: tuple[tuple[re.Pattern[str], Limit], ...]
    data_models: tuple[tuple[re.Pattern[str], Limit], ...]
    data_destinations: tuple[tuple[re.Pattern[str], Limit], ...]
    pii_actions: dict[str, Sourced[str]]
    pii_default: Sourced[str]
    max_payload_bytes: int
    on_oversize: Sourced[str]
    budgets: tuple[BudgetLimit, ...]
    alert_thresholds: tuple[float, ...]
    smallest_usd_budget: float | None
    freeze_windows: tuple[Sourced[FreezeWindow], ...]
    deployment_approval: ApprovalSpec
    deployment: DeploymentSettings
    _rules_memo: MutableMapping[str, RuleSet] = field(default_factory=memo_table, repr=False)
    _autonomy_memo: MutableMapping[str, tuple[Limit, ...]] = field(
        default_factory=memo_table, repr=False
    )
    _data_memo: MutableMapping[tuple[str, str], tuple[Limit, ...]] = field(
        default_factory=memo_table, repr=False
    )
    _model_memo: MutableMapping[str, ModelVerdict] = field(default_factory=memo_table, repr=False)
    reasons: MutableMapping[tuple[Any, ...], Reason] = field(default_factory=memo_table, repr=False)
    """Reasons that depend only on a few request values, built once (see checks)."""
    plans: Plans = field(default_factory=Plans, repr=False, compare=False)
    """What decisions precompute per action type, model and destination (see plans)."""

    def rules_for(self, action_type: str) -> RuleSet:
        """Rules whose action globs match ``action_type``, in policy order."""
        return memoised(self._rules_memo, action_type, self._rules_for)

    def _rules_for(self, action_type: str) -> RuleSet:
        indexes = set(self.exact_actions.get(action_type, ()))
        indexes.update(i for pattern, i in self.wildcard_actions if pattern.match(action_type))
        rules = tuple(self.rules[i] for i in sorted(indexes))
        flat = tuple(dict.fromkeys(field for rule in rules for field in rule.flat))
        return RuleSet(rules, merge_needs([rule.needs for rule in rules]), flat)

    def autonomy_limits(self, action_type: str) -> tuple[Limit, ...]:
        """Every autonomy ceiling that applies to ``action_type``."""
        return memoised(self._autonomy_memo, action_type, self._autonomy_limits)

    def _autonomy_limits(self, action_type: str) -> tuple[Limit, ...]:
        found = _matching(self.autonomy_actions, action_type)
        return found if self.autonomy_ceiling is None else (self.autonomy_ceiling, *found)

    def data_limits(self, kind: str, key: str) -> tuple[Limit, ...]:
        """Data-class limits for an action type, model or destination (``kind``)."""
        return memoised(self._data_memo, (kind, key), self._data_limits)

    def _data_limits(self, key: tuple[str, str]) -> tuple[Limit, ...]:
        kind, name = key
        table = {"action": self.data_actions, "model": self.data_models}.get(
            kind, self.data_destinations
        )
        return _matching(table, name)

    def model_verdict(self, model: str) -> ModelVerdict:
        """Whether ``model`` passes every allow-list and no deny-list, with the reasons."""
        return memoised(self._model_memo, model, self._model_verdict)

    def _model_verdict(self, model: str) -> ModelVerdict:
        reasons = [
            _model_not_allowed(model, allow)
            for pattern, allow in self.model_allow
            if pattern.match(model) is None
        ]
        allowed_hint = _allowed_hint(self.model_allow)
        reasons += [
            _model_denied(model, deny, allowed_hint)
            for pattern, deny in self.model_deny
            if pattern.match(model) is not None
        ]
        allowed = not reasons
        tier = model_tier(model, allowed=allowed, allow_listed=bool(self.model_allow))
        return ModelVerdict(tuple(reasons), allowed, tier)

    def pii_action(self, entity: str) -> Sourced[str]:
        return self.pii_actions.get(entity, self.pii_default)


@dataclass(frozen=True, slots=True)
class ModelVerdict:
    reasons: tuple[Reason, ...]
    allowed: bool
    tier: ModelTier


def _allowed_hint(model_allow: tuple[tuple[re.Pattern[str], Sourced[tuple[str, ...]]], ...]) -> str:
    if not model_allow:
        return ""
    narrowest = min((allow.value for _, allow in model_allow), key=len)
    return f"; allowed: {', '.join(narrowest)}" if narrowest else ""


def _model_not_allowed(model: str, allow: Sourced[tuple[str, ...]]) -> Reason:
    patterns = ", ".join(allow.value) or "(none)"
    return Reason(
        code=MODEL_NOT_ALLOWED,
        severity="high",
        effect="deny",
        message=f"model '{model}' is not on the {allow.source.layer} allow-list ({patterns})",
        remediation=f"use an allowed model ({patterns}) or ask a policy admin to allow it",
        docs_url=docs_url(MODEL_NOT_ALLOWED),
        rule_id="models.allow",
        policy=allow.source.policy,
        version=allow.source.version,
        layer=allow.source.layer,
        actual=model,
        counterfactual=f"use one of: {patterns}",
    )


def _model_denied(model: str, deny: Sourced[str], allowed_hint: str) -> Reason:
    return Reason(
        code=MODEL_DENIED,
        severity="high",
        effect="deny",
        message=f"model '{model}' is denied by the {deny.source.layer} policy ('{deny.value}')",
        remediation=f"use a model that does not match '{deny.value}'{allowed_hint}",
        docs_url=docs_url(MODEL_DENIED),
        rule_id=format_path(("models", "deny", deny.value)),
        policy=deny.source.policy,
        version=deny.source.version,
        layer=deny.source.layer,
        actual=model,
        counterfactual=f"use a model not matching '{deny.value}'{allowed_hint}",
    )


def _deployment_settings(effective: EffectivePolicy) -> DeploymentSettings:
    value = effective.value
    return DeploymentSettings(
        max_agents_per_batch=value("deployments.max_agents_per_batch"),
        max_config_changes=value("deployments.max_config_changes"),
        approval_above_risk=value("deployments.approval_above_risk"),
        max_error_rate=value("deployments.health_gates.max_error_rate"),
        max_latency_p99_ms=value("deployments.health_gates.max_latency_p99_ms"),
        min_healthy_fraction=value("deployments.health_gates.min_healthy_fraction"),
        bake_time_s=value("deployments.health_gates.bake_time_s"),
        rollback_error_rate_above=value("deployments.rollback_triggers.error_rate_above"),
        rollback_on_policy_violation=value("deployments.rollback_triggers.on_policy_violation"),
    )


def _budgets(effective: EffectivePolicy) -> tuple[BudgetLimit, ...]:
    limits = []
    for scope, period, unit in BUDGET_KEYS:
        item = effective.scalars.get(f"budgets.{scope}.{period}.{unit}")
        if item is not None:
            limits.append(
                BudgetLimit(
                    scope,
                    period,
                    unit,
                    float(item.value),
                    item.source,
                    f"budgets.{scope}.{period}.{unit}",
                    f"{scope}_{period}_{unit}",
                    format_amount(unit, float(item.value)),
                )
            )
    return tuple(limits)


def compile_policy(effective: EffectivePolicy) -> CompiledPolicy:
    """The evaluator of ``effective``; raises ValueError if a condition does not compile."""
    rules = compile_rules(effective)
    exact, wildcard = action_index(effective)
    budgets = _budgets(effective)
    usd = [b.limit for b in budgets if b.unit == "usd"]
    approval_roles = tuple(r.value for r in effective.approval_roles) or DEFAULT_APPROVER_ROLES
    return CompiledPolicy(
        effective=effective,
        rules=rules,
        exact_actions=exact,
        wildcard_actions=wildcard,
        model_allow=tuple((compile_globs(a.value), a) for a in effective.model_allow),
        model_deny=tuple((compile_globs((d.value,)), d) for d in effective.model_deny),
        autonomy_ceiling=_ceiling(
            effective.scalars.get("autonomy.ceiling"), "autonomy.ceiling", autonomy_number
        ),
        autonomy_actions=_glob_limits(
            effective.glob_limits["autonomy.actions"], "autonomy.actions", autonomy_number
        ),
        data_ceiling=_ceiling(
            effective.scalars.get("data.max_class"), "data.max_class", _data_rank
        ),
        data_actions=_glob_limits(
            effective.glob_limits["data.actions"], "data.actions", _data_rank
        ),
        data_models=_glob_limits(effective.glob_limits["data.models"], "data.models", _data_rank),
        data_destinations=_glob_limits(
            effective.glob_limits["data.destinations"], "data.destinations", _data_rank
        ),
        pii_actions={entity: effective.get(f"pii.entities.{entity}") for entity in PII_ENTITIES},
        pii_default=effective.get("pii.default"),
        max_payload_bytes=effective.value("pii.max_payload_bytes"),
        on_oversize=effective.get("pii.on_oversize"),
        budgets=budgets,
        alert_thresholds=tuple(sorted({t.value for t in effective.alert_thresholds})),
        smallest_usd_budget=min(usd) if usd else None,
        freeze_windows=effective.freeze_windows,
        deployment_approval=ApprovalSpec(
            approval_roles,
            effective.value("deployments.approval.quorum"),
            duration_seconds(effective.value("deployments.approval.expires_in")),
        ),
        deployment=_deployment_settings(effective),
    )


def _data_rank(value: Any) -> int:
    return DATA_CLASSES.index(value)
