"""Every single-valued setting of a policy: where it is read, which way is stricter, its default.

Merging keeps the strictest value any layer sets; an overlay that sets a looser value than
its parents is refused. Built-in defaults apply only where no layer sets a value, and they
do not constrain overlays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from policy_engine.domain.document.schema import (
    DATA_CLASSES,
    NAME_ENTITIES,
    OVERSIZE_ACTIONS,
    PII_ACTIONS,
    PII_ENTITIES,
    BudgetPolicy,
    PiiEntity,
    Spec,
    autonomy_number,
    duration_seconds,
)

Stricter = Literal["lower", "higher"]
BudgetScopeName = Literal["agency", "agent"]
BudgetPeriod = Literal["daily", "monthly"]
BudgetUnit = Literal["usd", "tokens"]
BUDGET_KEYS: tuple[tuple[BudgetScopeName, BudgetPeriod, BudgetUnit], ...] = tuple(
    (scope, period, unit)
    for scope in ("agency", "agent")
    for period in ("daily", "monthly")
    for unit in ("usd", "tokens")
)


def _number(value: Any) -> float:
    return float(value)


def _autonomy(value: Any) -> float:
    return float(autonomy_number(value))


def _data_class(value: Any) -> float:
    return float(DATA_CLASSES.index(value))


def _pii(value: Any) -> float:
    return float(PII_ACTIONS.index(value))


def _oversize(value: Any) -> float:
    return float(OVERSIZE_ACTIONS.index(value))


def _duration(value: Any) -> float:
    return float(duration_seconds(value))


@dataclass(frozen=True)
class ScalarSetting:
    path: str
    stricter: Stricter
    read: Callable[[Spec], Any]
    """The value a layer contributes to the merge (None = not set)."""
    rank: Callable[[Any], float] = _number
    default: Any = None
    explicit: Callable[[Spec], Any] | None = None
    """The value a layer states itself, for overlay checks (default: ``read``)."""

    def stated(self, spec: Spec) -> Any:
        return (self.explicit or self.read)(spec)

    def is_stricter(self, value: Any, than: Any) -> bool:
        a, b = self.rank(value), self.rank(than)
        return a < b if self.stricter == "lower" else a > b

    @property
    def doc_path(self) -> tuple[str, ...]:
        return ("spec", *self.path.split("."))


def _budget(
    budgets: BudgetPolicy, scope: BudgetScopeName, period: BudgetPeriod, unit: BudgetUnit
) -> float | int | None:
    window = getattr(budgets, scope)
    amount = getattr(window, period) if window is not None else None
    value: float | int | None = getattr(amount, unit) if amount is not None else None
    return value


def _pii_entity(entity: PiiEntity) -> ScalarSetting:
    if entity in NAME_ENTITIES:  # opt-in: the NER model runs only for policies that name them
        return ScalarSetting(
            f"pii.entities.{entity}", "higher", lambda s: s.pii.entities.get(entity), _pii, "allow"
        )
    return ScalarSetting(
        f"pii.entities.{entity}",
        "higher",
        lambda s: s.pii.entities.get(entity, s.pii.default),
        rank=_pii,
        default="mask",
        explicit=lambda s: s.pii.entities.get(entity),
    )


def _budget_setting(
    scope: BudgetScopeName, period: BudgetPeriod, unit: BudgetUnit
) -> ScalarSetting:
    return ScalarSetting(
        f"budgets.{scope}.{period}.{unit}",
        "lower",
        lambda s: _budget(s.budgets, scope, period, unit),
    )


def _approval(spec: Spec, field: str) -> Any:
    # Only what a layer states: an unstated quorum or expiry must not count as a loosening.
    approval = spec.deployments.approval
    if approval is None or field not in approval.model_fields_set:
        return None
    return getattr(approval, field)


SCALARS: tuple[ScalarSetting, ...] = (
    ScalarSetting("autonomy.ceiling", "lower", lambda s: s.autonomy.ceiling, _autonomy, "L4"),
    ScalarSetting("data.max_class", "lower", lambda s: s.data.max_class, _data_class, "restricted"),
    ScalarSetting("pii.default", "higher", lambda s: s.pii.default, _pii, "mask"),
    *(_pii_entity(entity) for entity in PII_ENTITIES),
    ScalarSetting(
        "pii.max_payload_bytes", "lower", lambda s: s.pii.max_payload_bytes, default=1 << 20
    ),
    ScalarSetting("pii.on_oversize", "higher", lambda s: s.pii.on_oversize, _oversize, "deny"),
    *(_budget_setting(*key) for key in BUDGET_KEYS),
    ScalarSetting(
        "deployments.max_agents_per_batch", "lower", lambda s: s.deployments.max_agents_per_batch
    ),
    ScalarSetting(
        "deployments.max_config_changes", "lower", lambda s: s.deployments.max_config_changes
    ),
    ScalarSetting(
        "deployments.approval_above_risk", "lower", lambda s: s.deployments.approval_above_risk
    ),
    ScalarSetting(
        "deployments.approval.quorum", "higher", lambda s: _approval(s, "quorum"), default=1
    ),
    ScalarSetting(
        "deployments.approval.expires_in",
        "lower",
        lambda s: _approval(s, "expires_in"),
        _duration,
        "24h",
    ),
    ScalarSetting(
        "deployments.health_gates.max_error_rate",
        "lower",
        lambda s: s.deployments.health_gates.max_error_rate,
        default=0.05,
    ),
    ScalarSetting(
        "deployments.health_gates.max_latency_p99_ms",
        "lower",
        lambda s: s.deployments.health_gates.max_latency_p99_ms,
        default=2000.0,
    ),
    ScalarSetting(
        "deployments.health_gates.min_healthy_fraction",
        "higher",
        lambda s: s.deployments.health_gates.min_healthy_fraction,
        default=0.9,
    ),
    ScalarSetting(
        "deployments.health_gates.bake_time_s",
        "higher",
        lambda s: s.deployments.health_gates.bake_time_s,
        default=60,
    ),
    ScalarSetting(
        "deployments.rollback_triggers.error_rate_above",
        "lower",
        lambda s: s.deployments.rollback_triggers.error_rate_above,
        default=0.1,
    ),
    ScalarSetting(
        "deployments.rollback_triggers.on_policy_violation",
        "higher",
        lambda s: s.deployments.rollback_triggers.on_policy_violation,
        default=True,
    ),
)
SCALARS_BY_PATH: Mapping[str, ScalarSetting] = {setting.path: setting for setting in SCALARS}


@dataclass(frozen=True)
class GlobFamily:
    """Limits keyed by glob (every matching entry applies); ``ceiling`` is their global cap."""

    path: str
    read: Callable[[Spec], Mapping[str, Any]]
    ceiling: str

    @property
    def setting(self) -> ScalarSetting:
        return SCALARS_BY_PATH[self.ceiling]


GLOB_FAMILIES: tuple[GlobFamily, ...] = (
    GlobFamily("autonomy.actions", lambda s: s.autonomy.actions, "autonomy.ceiling"),
    GlobFamily("data.actions", lambda s: s.data.actions, "data.max_class"),
    GlobFamily("data.models", lambda s: s.data.models, "data.max_class"),
    GlobFamily("data.destinations", lambda s: s.data.destinations, "data.max_class"),
)
