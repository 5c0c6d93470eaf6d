"""The AIPolicy document (``apiVersion: cortex.codevald.io/v1``) as pydantic models.

Field docstrings become the descriptions of the published JSON Schema; docs/policies.md
explains every field with examples.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from policy_engine.domain.conditions.expr import CelError, compile_condition
from policy_engine.domain.document.glob import glob_error

API_VERSION = "cortex.codevald.io/v1"
KIND = "AIPolicy"
SCHEMA_ID = "https://cortex.codevald.io/schemas/v1/aipolicy.json"

LayerName = Literal["org", "agency", "team"]
LAYER_ORDER: tuple[LayerName, ...] = ("org", "agency", "team")

AutonomyLevel = Literal["L0", "L1", "L2", "L3", "L4"]
AUTONOMY_LEVELS: tuple[AutonomyLevel, ...] = get_args(AutonomyLevel)
#: What each level lets an agent do (docs/policies.md#autonomy-levels).
AUTONOMY_MEANINGS: dict[AutonomyLevel, str] = {
    "L0": "suggest only: the agent proposes, a human acts",
    "L1": "act with human confirmation of every action",
    "L2": "act within pre-approved playbooks",
    "L3": "act autonomously, with after-the-fact human review",
    "L4": "fully autonomous",
}

DataClass = Literal["public", "internal", "confidential", "restricted"]
#: Data classes from least to most sensitive.
DATA_CLASSES: tuple[DataClass, ...] = get_args(DataClass)

PiiEntity = Literal[
    "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "SECRET", "PERSON", "LOCATION"
]
#: Every PII / secret entity the detectors report.
PII_ENTITIES: tuple[PiiEntity, ...] = get_args(PiiEntity)
#: Names and places, read by a language model: only where a policy names them under
#: ``pii.entities`` (``pii.default`` does not reach them), so other policies stay fast.
NAME_ENTITIES: tuple[PiiEntity, ...] = ("PERSON", "LOCATION")
PiiAction = Literal["allow", "mask", "deny"]
#: PII actions from least to most strict.
PII_ACTIONS: tuple[PiiAction, ...] = get_args(PiiAction)
OversizeAction = Literal["mask_all", "deny"]
OVERSIZE_ACTIONS: tuple[OversizeAction, ...] = get_args(OversizeAction)

RuleEffect = Literal["deny", "require_approval"]
RuleSeverity = Literal["low", "medium", "high", "critical"]

_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def autonomy_number(level: AutonomyLevel) -> int:
    return int(level[1])


def duration_seconds(text: str) -> int:
    """Seconds of a duration like ``30m``, ``4h`` or ``2d``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def _check_glob(value: str) -> str:
    problem = glob_error(value)
    if problem is not None:
        raise PydanticCustomError(
            "invalid_glob",
            "invalid glob '{pattern}': {problem}",
            {
                "pattern": value,
                "problem": problem,
                "remediation": "use * (any run), ? (one character) and [a-z] / [!a-z] classes",
            },
        )
    return value


def _check_condition(value: str) -> str:
    try:
        compile_condition(value)
    except CelError as exc:
        raise PydanticCustomError(
            "invalid_cel",
            "{detail}",
            {
                "detail": str(exc),
                "remediation": "fix the CEL expression; it may use action, resource, agent, "
                "request and context (see docs/policies.md#conditions-cel)",
            },
        ) from None
    return value


def _check_duration(value: str) -> str:
    if _DURATION.match(value) is None:
        raise PydanticCustomError(
            "invalid_duration",
            "invalid duration '{value}'",
            {"value": value, "remediation": "use a number and a unit s|m|h|d, e.g. 30m, 4h, 2d"},
        )
    return value


Glob = Annotated[
    StrictStr,
    AfterValidator(_check_glob),
    WithJsonSchema({"type": "string", "minLength": 1, "description": "glob: * ? [a-z] [!a-z]"}),
]
Condition = Annotated[
    StrictStr,
    AfterValidator(_check_condition),
    WithJsonSchema({"type": "string", "minLength": 1, "description": "CEL boolean expression"}),
]
Duration = Annotated[
    StrictStr,
    AfterValidator(_check_duration),
    WithJsonSchema({"type": "string", "pattern": _DURATION.pattern}),
]
Slug = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Name = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,127}$")]
RuleId = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
Role = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
LabelKey = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")]
Text = Annotated[StrictStr, StringConstraints(min_length=1, max_length=2000)]
Fraction = Annotated[StrictFloat, Field(ge=0, le=1, allow_inf_nan=False)]
OpenFraction = Annotated[StrictFloat, Field(gt=0, lt=1, allow_inf_nan=False)]
NonNegative = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[StrictInt, Field(ge=1)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Metadata(_Model):
    name: Name
    """Policy name, unique per layer (lowercase, digits, `.`, `_`, `-`)."""
    agency: Slug | None = None
    """Agency slug; required for agency and team layers."""
    layer: LayerName
    """org (baseline) | agency | team (overlay)."""
    team: Slug | None = None
    """Team slug; required for the team layer."""
    description: Text | None = None

    @model_validator(mode="after")
    def _layer_fields(self) -> Metadata:
        needs_agency = self.layer in ("agency", "team")
        if needs_agency != (self.agency is not None) or (self.layer == "team") != (
            self.team is not None
        ):
            raise PydanticCustomError(
                "layer_mismatch",
                "layer '{layer}': {rule}",
                {
                    "layer": self.layer,
                    "rule": "org takes neither agency nor team; agency needs agency; "
                    "team needs agency and team",
                    "remediation": "set metadata.agency / metadata.team to match metadata.layer",
                },
            )
        return self


class ModelsPolicy(_Model):
    allow: tuple[Glob, ...] | None = None
    """Models that may be used; omitted = no allow-list at this layer, [] = none."""
    deny: tuple[Glob, ...] = ()
    """Models that may never be used (wins over allow)."""


class AutonomyPolicy(_Model):
    ceiling: AutonomyLevel | None = None
    """Highest autonomy level any action may request."""
    actions: dict[Glob, AutonomyLevel] = Field(default_factory=dict)
    """Ceiling per action-type glob; every matching entry applies."""


class Match(_Model):
    actions: tuple[Glob, ...] = Field(min_length=1)
    """Action-type globs the rule applies to."""
    resources: tuple[Glob, ...] | None = None
    """Resource globs; omitted = any resource."""
    labels: dict[LabelKey, Glob] = Field(default_factory=dict)
    """Labels the request must carry (value globs); all must match."""


class Approval(_Model):
    roles: tuple[Role, ...] = Field(min_length=1)
    """Roles that may approve."""
    quorum: Annotated[StrictInt, Field(ge=1, le=20)] = 1
    """Distinct approvers needed."""
    expires_in: Duration = "24h"
    """How long the request stays open before it expires (and fails closed)."""


class Rule(_Model):
    id: RuleId
    """Stable identifier, unique across all layers of an effective policy."""
    description: Text | None = None
    match: Match
    condition: Condition | None = None
    """CEL expression; the rule fires when it is true (omitted = always)."""
    effect: RuleEffect
    severity: RuleSeverity | None = None
    """Defaults to high for deny, medium for require_approval."""
    message: Text
    """What is wrong, shown to the agent and to humans."""
    remediation: Text
    """How to fix it."""
    approval: Approval | None = None
    """Who approves (effect require_approval only; default: role approver)."""

    @model_validator(mode="after")
    def _approval_needs_effect(self) -> Rule:
        if self.approval is not None and self.effect != "require_approval":
            raise PydanticCustomError(
                "approval_without_effect",
                "rule '{rule_id}' has an approval block but effect '{effect}'",
                {
                    "rule_id": self.id,
                    "effect": self.effect,
                    "remediation": "use effect: require_approval or remove approval",
                },
            )
        return self


class DataPolicy(_Model):
    max_class: DataClass | None = None
    """Highest class any action may send out."""
    actions: dict[Glob, DataClass] = Field(default_factory=dict)
    """Highest class per action-type glob."""
    models: dict[Glob, DataClass] = Field(default_factory=dict)
    """Highest class per model glob."""
    destinations: dict[Glob, DataClass] = Field(default_factory=dict)
    """Highest class per destination glob (URL, host, bucket, ...)."""


class PiiPolicy(_Model):
    default: PiiAction | None = None
    """Action for entities not listed under entities."""
    entities: dict[PiiEntity, PiiAction] = Field(default_factory=dict)
    """allow | mask | deny per detected entity."""
    max_payload_bytes: Annotated[StrictInt, Field(ge=1)] | None = None
    """Payloads above this size are not scanned; on_oversize decides."""
    on_oversize: OversizeAction | None = None
    """deny, or mask_all (the whole payload is redacted)."""


class BudgetAmount(_Model):
    usd: NonNegative | None = None
    """Hard limit in US dollars."""
    tokens: NonNegativeInt | None = None
    """Hard limit in tokens."""


class BudgetScope(_Model):
    daily: BudgetAmount | None = None
    """Per UTC day."""
    monthly: BudgetAmount | None = None
    """Per UTC calendar month."""


class BudgetPolicy(_Model):
    agency: BudgetScope | None = None
    """All agents of the agency together."""
    agent: BudgetScope | None = None
    """Each agent on its own."""
    alert_thresholds: tuple[OpenFraction, ...] = ()
    """Soft thresholds as fractions of each hard limit; crossing one emits an alert."""


class FreezeWindow(_Model):
    start: AwareDatetime
    """Start (inclusive), with a timezone (UTC recommended)."""
    end: AwareDatetime
    """End (exclusive)."""
    reason: Text
    environments: tuple[Glob, ...] | None = None
    """Environments frozen; omitted = all."""
    effect: RuleEffect = "deny"
    """deny, or require_approval (break-glass)."""

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.end <= self.start:
            raise PydanticCustomError(
                "empty_window",
                "freeze window ends before it starts",
                {"remediation": "make end later than start"},
            )
        return self


class HealthGates(_Model):
    max_error_rate: Fraction | None = None
    """Highest error rate (0..1) a batch may show and still pass."""
    max_latency_p99_ms: Positive | None = None
    """Highest p99 latency of a batch, in milliseconds."""
    min_healthy_fraction: Fraction | None = None
    """Lowest fraction of a batch's agents that must report healthy."""
    bake_time_s: NonNegativeInt | None = None
    """How long a batch is watched before the next one starts."""


class RollbackTriggers(_Model):
    error_rate_above: Fraction | None = None
    """Roll back automatically when the error rate goes above this."""
    on_policy_violation: StrictBool | None = None
    """Roll back automatically on a policy violation of the deployment."""


class DeploymentPolicy(_Model):
    max_agents_per_batch: Count | None = None
    max_config_changes: Count | None = None
    """Most config changes in one deployment."""
    approval_above_risk: Fraction | None = None
    """Plans with a risk score above this need approval."""
    approval: Approval | None = None
    """Who approves risky plans and break-glass freezes (default: role approver)."""
    freeze_windows: tuple[FreezeWindow, ...] = ()
    health_gates: HealthGates = Field(default_factory=HealthGates)
    rollback_triggers: RollbackTriggers = Field(default_factory=RollbackTriggers)


AgenciesWithoutPolicy = Literal["deny", "baseline"]


class Spec(_Model):
    agencies_without_policy: AgenciesWithoutPolicy | None = None
    """Org baseline only. What an agency that has no policy of its own may do: `deny`
    (the default: every action is refused with `no_policy`) or `baseline` (its actions are
    evaluated under this baseline alone)."""
    models: ModelsPolicy = Field(default_factory=ModelsPolicy)
    autonomy: AutonomyPolicy = Field(default_factory=AutonomyPolicy)
    rules: tuple[Rule, ...] = ()
    data: DataPolicy = Field(default_factory=DataPolicy)
    pii: PiiPolicy = Field(default_factory=PiiPolicy)
    budgets: BudgetPolicy = Field(default_factory=BudgetPolicy)
    deployments: DeploymentPolicy = Field(default_factory=DeploymentPolicy)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> Spec:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise PydanticCustomError(
                    "duplicate_rule_id",
                    "rule id '{rule_id}' is used twice",
                    {"rule_id": rule.id, "remediation": "give every rule its own id"},
                )
            seen.add(rule.id)
        return self


class PolicyDocument(_Model):
    """An AI policy of one layer (org baseline, agency, or team overlay)."""

    apiVersion: Literal["cortex.codevald.io/v1"]  # the document's own field name
    kind: Literal["AIPolicy"]
    metadata: Metadata
    spec: Spec = Field(default_factory=Spec)

    @model_validator(mode="after")
    def _org_only(self) -> PolicyDocument:
        if self.spec.agencies_without_policy is not None and self.metadata.layer != "org":
            raise PydanticCustomError(
                "org_only_setting",
                "spec.agencies_without_policy is set in a {layer} policy; only the org "
                "baseline decides about agencies without a policy",
                {
                    "layer": self.metadata.layer,
                    "remediation": "remove spec.agencies_without_policy; an agency that has "
                    "this policy is not an agency without one",
                },
            )
        return self


@lru_cache(maxsize=1)
def _schema_text() -> str:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **PolicyDocument.model_json_schema(),
    }
    return json.dumps(schema)


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of the policy document (served at ``GET /v1/policies/schema``)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def freeze_window_active(window: FreezeWindow, now: datetime) -> bool:
    return window.start <= now < window.end
