"""Deployment plan checks: batch size, config changes, freeze windows and risk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from policy_engine.domain.decisions.checks import Outcome
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.decision import (
    BATCH_TOO_LARGE,
    FREEZE_WINDOW,
    RISK_ABOVE_THRESHOLD,
    TOO_MANY_CONFIG_CHANGES,
    Reason,
    docs_url,
)
from policy_engine.domain.decisions.risk import deployment_risk_score
from policy_engine.domain.document.effective import Provenance
from policy_engine.domain.document.glob import compile_globs


@dataclass(frozen=True, slots=True)
class DeploymentPlanInput:
    """A rollout plan (preflight and the rollout orchestrator)."""

    agency: str
    service: str
    environment: str
    target_agents: int
    batch_size: int
    config_changes: int
    now: datetime
    team: str | None = None
    deployment_id: str | None = None
    change_kind: Literal["config", "prompt", "model", "code"] = "config"
    model: str | None = None
    """The model the agents move to, when the plan changes it."""
    labels: Mapping[str, str] = field(default_factory=dict)
    recent_change_failure_rate: float = 0.0
    """Share of this service's recent deployments that failed (0..1)."""
    risk_score: float | None = None
    """A caller's own risk estimate; the higher of it and the computed score is used."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Free-form fields, visible to conditions as ``request``."""

    def __post_init__(self) -> None:
        if min(self.target_agents, self.batch_size, self.config_changes) < 0:
            raise ValueError("target_agents, batch_size and config_changes must not be negative")
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")


def _reason(code: str, source: Provenance, rule_id: str, **fields: Any) -> Reason:
    fields.setdefault("severity", "high")
    fields.setdefault("effect", "deny")
    return Reason(
        code=code,
        docs_url=docs_url(code),
        rule_id=rule_id,
        policy=source.policy,
        version=source.version,
        layer=source.layer,
        **fields,
    )


def check_batches(compiled: CompiledPolicy, plan: DeploymentPlanInput, out: Outcome) -> None:
    batch = compiled.effective.scalars.get("deployments.max_agents_per_batch")
    if batch is not None and plan.batch_size > batch.value:
        out.add(
            _reason(
                BATCH_TOO_LARGE,
                batch.source,
                "deployments.max_agents_per_batch",
                message=f"batches of {plan.batch_size} agents exceed the limit of {batch.value}",
                remediation=f"deploy in batches of at most {batch.value} agents",
                counterfactual=f"split into batches of ≤ {batch.value}",
                actual=plan.batch_size,
                limit=batch.value,
            )
        )
    changes = compiled.effective.scalars.get("deployments.max_config_changes")
    if changes is not None and plan.config_changes > changes.value:
        out.add(
            _reason(
                TOO_MANY_CONFIG_CHANGES,
                changes.source,
                "deployments.max_config_changes",
                message=f"{plan.config_changes} config changes exceed the limit of {changes.value} "
                "per deployment",
                remediation="split the change into several deployments",
                counterfactual=f"split into deployments of ≤ {changes.value} config changes",
                actual=plan.config_changes,
                limit=changes.value,
            )
        )


def check_freeze_windows(compiled: CompiledPolicy, plan: DeploymentPlanInput, out: Outcome) -> None:
    for index, sourced in enumerate(compiled.freeze_windows):
        window = sourced.value
        if not window.start <= plan.now < window.end:
            continue
        if window.environments and not compile_globs(window.environments).match(plan.environment):
            continue
        end = window.end.isoformat().replace("+00:00", "Z")
        out.add(
            _reason(
                FREEZE_WINDOW,
                sourced.source,
                f"deployments.freeze_windows[{index}]",
                message=f"{plan.environment} is frozen until {end}: {window.reason}",
                remediation=f"deploy after {end}"
                + (" or get break-glass approval" if window.effect == "require_approval" else ""),
                counterfactual=f"wait until {end}",
                effect=window.effect,
                severity="high" if window.effect == "deny" else "medium",
                actual=plan.now.isoformat(),
                limit=end,
            ),
            compiled.deployment_approval,
        )


def check_risk(
    compiled: CompiledPolicy, plan: DeploymentPlanInput, out: Outcome
) -> tuple[float, dict[str, float]]:
    computed = deployment_risk_score(
        environment=plan.environment,
        target_agents=plan.target_agents,
        batch_size=plan.batch_size,
        config_changes=plan.config_changes,
        change_kind=plan.change_kind,
        recent_change_failure_rate=plan.recent_change_failure_rate,
    )
    risk = max(computed, min(max(plan.risk_score or 0.0, 0.0), 1.0))
    threshold = compiled.effective.scalars.get("deployments.approval_above_risk")
    if threshold is not None and risk > threshold.value:
        out.add(
            _reason(
                RISK_ABOVE_THRESHOLD,
                threshold.source,
                "deployments.approval_above_risk",
                message=f"the plan's risk {risk:.2f} is above {threshold.value:.2f}",
                remediation="get the approval, or lower the risk: a smaller first batch, fewer "
                "config changes, a lower environment first",
                counterfactual=f"reduce risk to ≤ {threshold.value:.2f} or obtain approval",
                effect="require_approval",
                severity="medium",
                actual=risk,
                limit=threshold.value,
            ),
            compiled.deployment_approval,
        )
    return risk, {"computed": computed, "declared": plan.risk_score or 0.0}


def deployment_variable(
    plan: DeploymentPlanInput, labels: Mapping[str, str], name: str
) -> dict[str, Any]:
    """One CEL variable of a plan: ``request`` is the plan, ``action.type`` is ``deploy``."""
    if name == "request":
        request: dict[str, Any] = {
            "service": plan.service,
            "environment": plan.environment,
            "target_agents": plan.target_agents,
            "batch_size": plan.batch_size,
            "config_changes": plan.config_changes,
            "change_kind": plan.change_kind,
            "recent_change_failure_rate": float(plan.recent_change_failure_rate),
            **plan.extra,
        }
        return request | _optional(plan)
    if name == "action":
        return {"type": "deploy", "change_kind": plan.change_kind} | _optional(plan)
    if name == "resource":
        return {"id": f"{plan.service}/{plan.environment}", "labels": dict(labels)}
    if name == "agent":
        return {"agency": plan.agency} | ({"team": plan.team} if plan.team is not None else {})
    return {"now": plan.now}


def _optional(plan: DeploymentPlanInput) -> dict[str, Any]:
    return {
        key: value
        for key, value in (("model", plan.model), ("deployment_id", plan.deployment_id))
        if value is not None
    }
