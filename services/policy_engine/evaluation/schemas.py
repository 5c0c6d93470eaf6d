"""``POST /v1/authorize`` input and output (documented in docs/policies.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=200, description="Action type, e.g. `db.write`.")
    resource: str = Field(default="", max_length=1000)
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    model: str | None = Field(default=None, max_length=200)
    autonomy_level: int = Field(default=0, description="0..4, or send 'L0'..'L4'.")
    data_class: Literal["public", "internal", "confidential", "restricted"] = "public"
    destination: str | None = Field(default=None, max_length=1000)
    estimated_cost_usd: float = Field(default=0.0, ge=0, le=1_000_000)
    estimated_tokens: int = Field(default=0, ge=0, le=10_000_000_000)

    @field_validator("autonomy_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 2 and value[0] in "lL" and value[1].isdigit():
            return int(value[1])
        return value

    @field_validator("autonomy_level")
    @classmethod
    def _range(cls, value: int) -> int:
        if not 0 <= value <= 4:
            raise ValueError("autonomy_level must be L0..L4 (0..4)")
        return value


class AuthorizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: str = Field(min_length=1, max_length=200)
    team: Slug | None = None
    action: Action
    deployment_id: str | None = Field(default=None, max_length=200)
    payload: Any = Field(default=None, description="What the agent sends; scanned for PII.")
    context: dict[str, Any] = Field(
        default_factory=dict, description="Free-form facts, visible to CEL as `request`."
    )


class AuthorizeResponse(BaseModel):
    decision_id: str
    decision: Literal["allow", "deny", "require_approval"]
    risk_score: float
    reasons: list[dict[str, Any]]
    approval: dict[str, Any] | None = None
    masked_payload: Any = None
    masked_entities: list[str] = Field(default_factory=list)
    budget_alerts: list[dict[str, Any]] = Field(default_factory=list)
    risk_factors: dict[str, float] = Field(default_factory=dict)
    policy_version: str
    evaluated_us: float


class UsageReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cost_usd: float = Field(ge=0, le=1_000_000)
    tokens: int = Field(ge=0, le=10_000_000_000)


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(min_length=1, description="The candidate policy (YAML or JSON text).")
    content_type: Literal["yaml", "json"] = "yaml"
    last: int = Field(default=100, ge=1, le=10_000, description="How many recent decisions.")
