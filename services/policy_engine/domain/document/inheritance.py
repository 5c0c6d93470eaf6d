"""Layering: org baseline → agency → team overlay.

A child may tighten anything and loosen nothing. ``merge`` enforces that by construction
(strictest value wins, lists of denies and rules are unions, allow-lists intersect), and
``check_overlay`` refuses to publish an overlay that *tries* to loosen a parent, with the
reason, so nobody believes a setting is in force when a parent overrides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from policy_engine.domain.document.effective import (
    EffectivePolicy,
    GlobLimit,
    Provenance,
    Sourced,
    SourcedRule,
)
from policy_engine.domain.document.glob import glob_subsumes
from policy_engine.domain.document.limits import GLOB_FAMILIES, SCALARS, GlobFamily, ScalarSetting
from policy_engine.domain.document.loader import Issue, Path, SourceMap, format_path, sort_issues
from policy_engine.domain.document.schema import LAYER_ORDER, LayerName, PolicyDocument

__all__ = ["EffectivePolicy", "Layer", "check_overlay", "governs", "merge"]


class Layer(NamedTuple):
    document: PolicyDocument
    version: int
    layer: LayerName


def _provenance(layer: Layer) -> Provenance:
    return Provenance(layer.layer, layer.version, layer.document.metadata.name)


def _check_layers(layers: Sequence[Layer]) -> None:
    ranks = [LAYER_ORDER.index(layer.layer) for layer in layers]
    if ranks != sorted(set(ranks)):
        raise ValueError(f"layers must be ordered org → agency → team, got {ranks}")
    for layer in layers:
        if layer.document.metadata.layer != layer.layer:
            raise ValueError(
                f"policy {layer.document.metadata.name!r} is not a {layer.layer} policy"
            )
    agencies = {layer.document.metadata.agency for layer in layers if layer.layer != "org"}
    if len(agencies) > 1:
        raise ValueError(f"layers of different agencies: {sorted(map(str, agencies))}")


def merge(layers: Sequence[Layer]) -> EffectivePolicy:
    """The effective policy of ``layers`` (org first); raises ValueError when misordered."""
    _check_layers(layers)
    sources = [(layer.document.spec, _provenance(layer)) for layer in layers]
    scalars: dict[str, Sourced[Any]] = {}
    for setting in SCALARS:
        for spec, source in sources:
            value = setting.read(spec)
            current = scalars.get(setting.path)
            if value is not None and (current is None or setting.is_stricter(value, current.value)):
                scalars[setting.path] = Sourced(value, source)
    last = layers[-1].document.metadata if layers else None
    return EffectivePolicy(
        layers=tuple(source for _, source in sources),
        agency=last.agency if last else None,
        team=last.team if last else None,
        scalars=scalars,
        glob_limits={
            family.path: tuple(
                GlobLimit(pattern, value, source)
                for spec, source in sources
                for pattern, value in family.read(spec).items()
            )
            for family in GLOB_FAMILIES
        },
        model_allow=tuple(
            Sourced(spec.models.allow, source)
            for spec, source in sources
            if spec.models.allow is not None
        ),
        model_deny=tuple(
            Sourced(pattern, source) for spec, source in sources for pattern in spec.models.deny
        ),
        rules=tuple(SourcedRule(rule, source) for spec, source in sources for rule in spec.rules),
        alert_thresholds=_union(
            (t, source) for spec, source in sources for t in spec.budgets.alert_thresholds
        ),
        freeze_windows=tuple(
            Sourced(w, source) for spec, source in sources for w in spec.deployments.freeze_windows
        ),
        approval_roles=_union(
            (role, source)
            for spec, source in sources
            if spec.deployments.approval is not None
            for role in spec.deployments.approval.roles
        ),
    )


def _union(items: Any) -> tuple[Sourced[Any], ...]:
    seen: dict[Any, Sourced[Any]] = {}
    for value, source in items:
        seen.setdefault(value, Sourced(value, source))
    return tuple(seen.values())


class _Overlay:
    """Collects the loosenings of one child document against its parent."""

    def __init__(self, parent: EffectivePolicy, child: PolicyDocument, source: SourceMap) -> None:
        self.parent, self.child, self.source = parent, child, source
        self.issues: list[Issue] = []

    def add(self, path: Path, code: str, message: str, remediation: str) -> None:
        line, column = self.source.locate(path)
        self.issues.append(Issue(format_path(path), line, column, message, remediation, code))

    def check_layer(self) -> None:
        meta = self.child.metadata
        if self.parent.layers and LAYER_ORDER.index(meta.layer) <= LAYER_ORDER.index(
            _layer_name(self.parent.layers[-1])
        ):
            self.add(
                ("metadata", "layer"),
                "layer_order",
                f"a {meta.layer} policy cannot overlay a {self.parent.layers[-1].layer} policy",
                "overlays go org → agency → team",
            )
        if self.parent.agency is not None and meta.agency != self.parent.agency:
            self.add(
                ("metadata", "agency"),
                "agency_mismatch",
                f"agency {meta.agency!r} differs from the parent's {self.parent.agency!r}",
                f"set metadata.agency to {self.parent.agency!r}",
            )

    def check_models(self) -> None:
        allow = self.child.spec.models.allow or ()
        for index, pattern in enumerate(allow):
            path = ("spec", "models", "allow", index)
            for layer_allow in self.parent.model_allow:
                if not any(glob_subsumes(p, pattern) for p in layer_allow.value):
                    self.add(
                        path,
                        "model_not_allowed_by_parent",
                        f"model {pattern!r} is not within what {_by(layer_allow.source)} allows "
                        f"({', '.join(layer_allow.value)}); it would stay denied",
                        f"narrow it to models matching one of: {', '.join(layer_allow.value)}",
                    )
            for deny in self.parent.model_deny:
                if glob_subsumes(deny.value, pattern):
                    self.add(
                        path,
                        "model_denied_by_parent",
                        f"model {pattern!r} is denied by {_by(deny.source)} ({deny.value!r})",
                        "remove it; a child cannot allow what a parent denies",
                    )

    def check_scalars(self) -> None:
        for setting in SCALARS:
            value = setting.stated(self.child.spec)
            current = self.parent.scalars.get(setting.path)
            if value is not None and current is not None:
                self.compare(setting, setting.doc_path, value, current.value, current.source)

    def compare(
        self, setting: ScalarSetting, path: Path, value: Any, limit: Any, source: Provenance
    ) -> None:
        if setting.is_stricter(limit, value):
            self.add(
                path,
                "loosens_parent",
                f"{format_path(path[1:])} = {_shown(value)} is looser than {_shown(limit)} "
                f"set by {_by(source)}",
                f"use {_shown(limit)} or stricter, or remove it to inherit the parent's value",
            )

    def check_glob_limits(self, family: GlobFamily) -> None:
        setting = family.setting
        ceiling = self.parent.scalars.get(setting.path)
        for pattern, value in family.read(self.child.spec).items():
            path = ("spec", *family.path.split("."), pattern)
            if ceiling is not None:
                self.compare(setting, path, value, ceiling.value, ceiling.source)
            for limit in self.parent.glob_limits.get(family.path, ()):
                if glob_subsumes(limit.pattern, pattern):
                    self.compare(setting, path, value, limit.value, limit.source)

    def check_rules(self) -> None:
        parent_rules = {r.rule.id: r.source for r in self.parent.rules}
        for index, rule in enumerate(self.child.spec.rules):
            if rule.id in parent_rules:
                self.add(
                    ("spec", "rules", index, "id"),
                    "rule_redefined",
                    f"rule {rule.id!r} is already defined by {_by(parent_rules[rule.id])}",
                    "give the rule a new id; parent rules always apply and cannot be replaced",
                )


def check_overlay(
    parent: EffectivePolicy | None, child: PolicyDocument, *, source: SourceMap | None = None
) -> list[Issue]:
    """Every way ``child`` would loosen ``parent``; empty when the overlay may be published."""
    if parent is None:
        return []
    overlay = _Overlay(parent, child, source or SourceMap.empty())
    overlay.check_layer()
    overlay.check_models()
    overlay.check_scalars()
    for family in GLOB_FAMILIES:
        overlay.check_glob_limits(family)
    overlay.check_rules()
    return sort_issues(overlay.issues)


def _layer_name(source: Provenance) -> LayerName:
    return "org" if source.layer == "default" else source.layer


def _by(source: Provenance) -> str:
    return f"the {source.layer} policy {source.policy!r} v{source.version}"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def governs(layers: Sequence[Layer]) -> bool:
    """Whether ``layers`` (org first) may decide for their agency: it has a policy of its own
    (an agency or team layer), or the org baseline admits agencies without one
    (``spec.agencies_without_policy: baseline``). Otherwise the agency is denied (fail closed).
    """
    if any(layer.layer != "org" for layer in layers):
        return True
    return any(layer.document.spec.agencies_without_policy == "baseline" for layer in layers)
