"""The first-run wizard: six steps of answers that become one valid agency policy (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_engine.domain.document.loader import Path
from policy_engine.domain.document.schema import API_VERSION, KIND

Level = Literal["L0", "L1", "L2", "L3", "L4"]
DataClassName = Literal["public", "internal", "confidential", "restricted"]
PiiChoice = Literal["allow", "mask", "deny"]
Amount = Annotated[float, Field(ge=0)]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileStep(_Step):
    """1. Who this policy is for."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,127}$")
    description: str | None = Field(default=None, max_length=2000)


class ModelsStep(_Step):
    """2. Which models agents may use (globs)."""

    allow: list[str] = Field(min_length=1)
    deny: list[str] = Field(default_factory=list)


class AutonomyStep(_Step):
    """3. How autonomous agents may be: a ceiling, and tighter ceilings per action type."""

    ceiling: Level
    actions: dict[str, Level] = Field(default_factory=dict)


class DataStep(_Step):
    """4. Data classes allowed out, and what happens to each kind of PII."""

    max_class: DataClassName
    pii: dict[str, PiiChoice] = Field(default_factory=dict)
    pii_default: PiiChoice = "mask"
    on_oversize: Literal["deny", "mask_all"] = "deny"


class BudgetWindow(_Step):
    daily_usd: Amount | None = None
    monthly_usd: Amount | None = None
    daily_tokens: int | None = Field(default=None, ge=0)
    monthly_tokens: int | None = Field(default=None, ge=0)


class BudgetsStep(_Step):
    """5. Spending limits for the agency and for each agent."""

    agency: BudgetWindow = Field(default_factory=BudgetWindow)
    agent: BudgetWindow = Field(default_factory=BudgetWindow)
    alert_thresholds: list[float] = Field(default_factory=lambda: [0.8])


class ApprovalsStep(_Step):
    """6. Which actions need a human, who approves, and deployment limits."""

    require_approval_for: list[str] = Field(default_factory=list)
    approver_roles: list[str] = Field(default_factory=lambda: ["approver"], min_length=1)
    quorum: int = Field(default=1, ge=1, le=20)
    expires_in: str = "24h"
    max_agents_per_batch: int | None = Field(default=None, ge=1)
    max_config_changes: int | None = Field(default=None, ge=1)
    approval_above_risk: float | None = Field(default=None, ge=0, le=1)


STEPS: dict[str, type[_Step]] = {
    "profile": ProfileStep,
    "models": ModelsStep,
    "autonomy": AutonomyStep,
    "data": DataStep,
    "budgets": BudgetsStep,
    "approvals": ApprovalsStep,
}
STEP_ORDER = tuple(STEPS)


def _window(w: BudgetWindow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for period in ("daily", "monthly"):
        amount = {
            unit: value
            for unit in ("usd", "tokens")
            if (value := getattr(w, f"{period}_{unit}")) is not None
        }
        if amount:
            out[period] = amount
    return out


def _spec(answers: Mapping[str, _Step]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if isinstance(m := answers.get("models"), ModelsStep):
        spec["models"] = {"allow": m.allow, "deny": m.deny}
    if isinstance(a := answers.get("autonomy"), AutonomyStep):
        spec["autonomy"] = {"ceiling": a.ceiling, "actions": a.actions}
    if isinstance(d := answers.get("data"), DataStep):
        spec["data"] = {"max_class": d.max_class}
        spec["pii"] = {"default": d.pii_default, "entities": d.pii, "on_oversize": d.on_oversize}
    if isinstance(b := answers.get("budgets"), BudgetsStep):
        budgets: dict[str, Any] = {"alert_thresholds": b.alert_thresholds}
        for scope in ("agency", "agent"):
            if window := _window(getattr(b, scope)):
                budgets[scope] = window
        spec["budgets"] = budgets
    if isinstance(p := answers.get("approvals"), ApprovalsStep):
        spec.update(_approvals(p))
    return spec


def _approvals(p: ApprovalsStep) -> dict[str, Any]:
    approval = {"roles": p.approver_roles, "quorum": p.quorum, "expires_in": p.expires_in}
    rules = [
        {
            "id": f"wizard.approval-{n}",
            "match": {"actions": [glob]},
            "effect": "require_approval",
            "message": f"Actions matching {glob!r} need human approval.",
            "remediation": f"Ask one of {', '.join(p.approver_roles)} to approve the request.",
            "approval": approval,
        }
        for n, glob in enumerate(p.require_approval_for, start=1)
    ]
    deployments: dict[str, Any] = {"approval": approval}
    for key in ("max_agents_per_batch", "max_config_changes", "approval_above_risk"):
        if (value := getattr(p, key)) is not None:
            deployments[key] = value
    return {"rules": rules, "deployments": deployments}


def build_document(agency: str, answers: Mapping[str, _Step]) -> dict[str, Any]:
    """The agency policy the answers given so far describe (missing steps are left out)."""
    profile = answers.get("profile")
    name = profile.name if isinstance(profile, ProfileStep) else f"{agency}-policy"
    metadata: dict[str, Any] = {"name": name, "agency": agency, "layer": "agency"}
    if isinstance(profile, ProfileStep) and profile.description:
        metadata["description"] = profile.description
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": _spec(answers)}


StepField = tuple[str, Path]
"""A step and the location of one of its answers (as in its body: ``("allow", 2)``)."""
_APPROVAL_FIELDS = ("quorum", "expires_in")
_DEPLOYMENT_FIELDS = ("max_agents_per_batch", "max_config_changes", "approval_above_risk")


def step_field(path: Path) -> StepField | None:
    """Which step's answer wrote the policy value at ``path`` (the step alone when no single
    answer did), or None for values no step writes."""
    match path:
        case ("metadata", "name" | "description" as field, *_):
            return "profile", (field,)
        case ("metadata", *_):
            return "profile", ()
        case ("spec", "models", "allow" | "deny" as field, *rest):
            return "models", (field, *rest)
        case ("spec", "autonomy", "ceiling" | "actions" as field, *rest):
            return "autonomy", (field, *rest)
        case ("spec", "data", "max_class", *_):
            return "data", ("max_class",)
        case ("spec", "pii", "entities", *rest):
            return "data", ("pii", *rest)
        case ("spec", "pii", "default" | "on_oversize" as field, *_):
            return "data", ("pii_default" if field == "default" else field,)
        case ("spec", "budgets", "agency" | "agent" as scope, str(period), str(unit), *_):
            return "budgets", (scope, f"{period}_{unit}")
        case ("spec", "budgets", "alert_thresholds", *rest):
            return "budgets", ("alert_thresholds", *rest)
        case ("spec", "rules" | "deployments", *_):
            return "approvals", _approvals_field(path[1:])
        case ("spec", str(section), *_):
            return _SECTION_STEPS.get(section)
    return None


_SECTION_STEPS: dict[str, StepField] = {
    "models": ("models", ()),
    "autonomy": ("autonomy", ()),
    "data": ("data", ()),
    "pii": ("data", ()),
    "budgets": ("budgets", ()),
}


def _approvals_field(path: Path) -> Path:
    match path:
        case ("rules", int(), "approval", "roles", *rest) | (
            "deployments",
            "approval",
            "roles",
            *rest,
        ):
            return ("approver_roles", *rest)
        case ("rules", int(), "approval", str(field), *_) | (
            "deployments",
            "approval",
            str(field),
            *_,
        ) if field in _APPROVAL_FIELDS:
            return (field,)
        case ("rules", int(index), *_):
            return ("require_approval_for", index)
        case ("deployments", str(field), *_) if field in _DEPLOYMENT_FIELDS:
            return (field,)
    return ()


def json_pointer(loc: Path) -> str:
    """RFC 6901 pointer of ``loc`` into a step's body: ``("allow", 2)`` → ``/allow/2``."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)
