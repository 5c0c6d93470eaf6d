"""The effective (merged) policy of one scope, where every value knows the layer it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from policy_engine.domain.document.limits import SCALARS, SCALARS_BY_PATH
from policy_engine.domain.document.schema import FreezeWindow, Rule

T = TypeVar("T")
SourceLayer = Literal["org", "agency", "team", "default"]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which published policy version a value comes from (``default`` = built in)."""

    layer: SourceLayer
    version: int
    policy: str

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "version": self.version, "policy": self.policy}


BUILT_IN = Provenance("default", 0, "built-in")


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    value: T
    source: Provenance


@dataclass(frozen=True, slots=True)
class GlobLimit:
    """A limit that applies to everything matching ``pattern``."""

    pattern: str
    value: Any
    source: Provenance


@dataclass(frozen=True, slots=True)
class SourcedRule:
    rule: Rule
    source: Provenance


@dataclass(frozen=True)
class EffectivePolicy:
    """org baseline → agency → team overlay, merged by tightening (see inheritance.merge)."""

    layers: tuple[Provenance, ...]
    agency: str | None
    team: str | None
    scalars: Mapping[str, Sourced[Any]]
    """Single-valued settings some layer sets: the strictest value and its layer."""
    glob_limits: Mapping[str, tuple[GlobLimit, ...]]
    model_allow: tuple[Sourced[tuple[str, ...]], ...]
    """One allow-list per layer that has one; a model must pass all of them."""
    model_deny: tuple[Sourced[str], ...]
    rules: tuple[SourcedRule, ...]
    alert_thresholds: tuple[Sourced[float], ...]
    freeze_windows: tuple[Sourced[FreezeWindow], ...]
    approval_roles: tuple[Sourced[str], ...]
    """Roles that approve risky deployment plans (union over layers)."""

    def get(self, path: str) -> Sourced[Any]:
        """The value of a scalar setting, or its built-in default (value None if it has none)."""
        found = self.scalars.get(path)
        if found is not None:
            return found
        return Sourced(SCALARS_BY_PATH[path].default, BUILT_IN)

    def value(self, path: str) -> Any:
        return self.get(path).value

    def explain(self) -> dict[str, Any]:
        """Every effective value with the layer, version and policy it came from (JSON-able)."""
        out: dict[str, Any] = {"layers": [layer.to_dict() for layer in self.layers]}
        for setting in SCALARS:
            _nest(out, setting.path, _sourced(self.get(setting.path)))
        out["models"] = {
            "allow": [{"patterns": list(a.value), **a.source.to_dict()} for a in self.model_allow],
            "deny": [{"pattern": d.value, **d.source.to_dict()} for d in self.model_deny],
        }
        for family, limits in self.glob_limits.items():
            _nest(out, family, [_glob_limit(limit) for limit in limits])
        out["budgets"]["alert_thresholds"] = [_sourced(t) for t in self.alert_thresholds]
        deployments = out["deployments"]
        deployments["approval"]["roles"] = [_sourced(r) for r in self.approval_roles]
        deployments["freeze_windows"] = [
            {**w.value.model_dump(mode="json"), **w.source.to_dict()} for w in self.freeze_windows
        ]
        out["rules"] = [
            {**r.rule.model_dump(mode="json", exclude_none=True), **r.source.to_dict()}
            for r in self.rules
        ]
        return out


def _sourced(item: Sourced[Any]) -> dict[str, Any]:
    value = item.value
    return {"value": value, **item.source.to_dict()}


def _glob_limit(limit: GlobLimit) -> dict[str, Any]:
    return {"pattern": limit.pattern, "value": limit.value, **limit.source.to_dict()}


def _nest(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
