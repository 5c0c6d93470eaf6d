from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from policy_engine.domain.document.diff import ChangeKind
from policy_engine.domain.document.schema import LayerName
from policy_engine.policies.repository import PolicyVersion
from policy_engine.policies.service import EffectiveView, PolicyDiff


class PolicyVersionInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    layer: LayerName
    agency: str | None
    team: str | None
    content_hash: str
    author: str
    message: str
    rollback_of: int | None
    created_at: datetime


class PolicyVersionOut(PolicyVersionInfo):
    content_type: Literal["yaml", "json"]
    source: str = Field(description="The document as it was published (YAML or JSON).")
    document: dict[str, Any] = Field(description="The normalised document.")
    created: bool = Field(default=False, description="False when the content was unchanged.")

    @classmethod
    def of(cls, row: PolicyVersion, *, created: bool = False) -> PolicyVersionOut:
        return cls.model_validate(row).model_copy(update={"created": created})


class PolicyHistory(BaseModel):
    scope: str
    items: list[PolicyVersionInfo]


class RollbackRequest(BaseModel):
    to_version: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=2000)


class ValidationResult(BaseModel):
    valid: bool
    issues: list[dict[str, Any]]


class PolicySchema(RootModel[dict[str, Any]]):
    """A JSON Schema (draft 2020-12) document: the schema of the AIPolicy document."""

    model_config = ConfigDict(
        json_schema_extra={
            "description": "A JSON Schema document (https://json-schema.org/draft/2020-12/schema)"
            ": the schema of the AIPolicy document.",
        }
    )


class PolicyChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    path: str = Field(description="Like `spec.rules[id=no-prod-drop].effect`.")
    old: Any = Field(description="The value before (null when added).")
    new: Any = Field(description="The value after (null when removed).")
    kind: ChangeKind


class PolicyDiffOut(BaseModel):
    """What changed from one version to another, in document order (rules matched by id)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)
    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    changes: list[PolicyChange]

    @classmethod
    def of(cls, diff: PolicyDiff) -> PolicyDiffOut:
        return cls(
            from_version=diff.from_version,
            to_version=diff.to_version,
            changes=[PolicyChange.model_validate(c._asdict()) for c in diff.changes],
        )


class Source(BaseModel):
    """A published policy version the effective policy is merged from."""

    layer: LayerName
    version: int
    policy: str


class EffectiveModels(BaseModel):
    allow: list[dict[str, Any]] = Field(
        description="Each layer's allow-list: `{patterns, layer, version, policy}`."
    )
    deny: list[dict[str, Any]] = Field(
        description="Each denied pattern: `{pattern, layer, version, policy}`."
    )


class EffectivePolicyOut(BaseModel):
    """The merged policy (org → agency → team): each value as `{value, layer, version,
    policy}` (`layer` `default` for a built-in value), glob limits as `{pattern, value, …}`."""

    model_config = ConfigDict(extra="forbid")
    agency: str
    team: str | None
    version: str = Field(description="The layers' versions, e.g. `org:1+agency:3`.")
    layers: list[Source]
    autonomy: dict[str, Any]
    data: dict[str, Any]
    pii: dict[str, Any]
    budgets: dict[str, Any]
    deployments: dict[str, Any]
    models: EffectiveModels
    rules: list[dict[str, Any]] = Field(description="Each rule as written, with its layer.")

    @classmethod
    def of(cls, view: EffectiveView) -> EffectivePolicyOut:
        return cls.model_validate(
            {"agency": view.agency, "team": view.team, "version": view.version, **view.explained}
        )
