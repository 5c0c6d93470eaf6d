"""``POST /v1/authorize`` input and output (documented in docs/policies.md)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cortex_kit.text import IdentifierText

if TYPE_CHECKING:  # what the answers map (those import the request models)
    from policy_engine.budgets.service import Settlement
    from policy_engine.evaluation.repository import DecisionRow
    from policy_engine.evaluation.simulate import Simulation

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
    approval_id: IdentifierText | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A granted approval of this exact action (the `approval.id` of an earlier "
        "`require_approval` answer): used once, it turns that answer into `allow`.",
    )


class ApprovalOut(BaseModel):
    """What a require_approval answer (or an allow by approval) says of its approval."""

    roles: list[str]
    quorum: int
    expires_in_s: int
    rule_ids: list[str]
    id: str = Field(description="The approval request (new, used, or refused).")
    status: Literal["pending", "granted", "rejected", "superseded", "expired", "used", "unknown"]
    status_url: str = Field(description="`GET` it (`?wait=30` long-polls) until it is decided.")
    input_hash: str = Field(description="`sha256:<hex>` of the exact action input approved.")
    subject_id: str = Field(description="The action's approval subject: (agent, action, resource).")
    expires_at: datetime | None = Field(description="When a new request expires.")
    approvers: list[str] = Field(description="Who approved (an allow by approval).")


class AuthorizeResponse(BaseModel):
    decision_id: str
    decision: Literal["allow", "deny", "require_approval"]
    risk_score: float
    reasons: list[dict[str, Any]]
    approval: ApprovalOut | None = None
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


Number = int | float


class BudgetAlertOut(BaseModel):
    """A soft budget threshold crossed (``BudgetAlert``)."""

    scope: Literal["agency", "agent"]
    period: Literal["daily", "monthly"]
    unit: Literal["usd", "tokens"]
    threshold: Number
    used_before: Number
    used_after: Number
    limit: Number


class UsageSettled(BaseModel):
    """A reservation replaced by the actual usage; the thresholds the difference crossed."""

    budget_alerts: list[BudgetAlertOut]
    decision_id: str
    reserved_usd: float
    actual_usd: float
    reserved_tokens: int
    actual_tokens: int

    @classmethod
    def of(cls, settled: Settlement) -> UsageSettled:
        return cls(
            budget_alerts=[BudgetAlertOut(**alert._asdict()) for alert in settled.budget_alerts],
            decision_id=settled.decision_id,
            reserved_usd=settled.reserved_usd,
            actual_usd=settled.actual_usd,
            reserved_tokens=settled.reserved_tokens,
            actual_tokens=settled.actual_tokens,
        )


class DecisionOut(BaseModel):
    """One logged decision: its masked input and its full explanation."""

    model_config = ConfigDict(from_attributes=True)
    decision_id: str
    agency: str
    agent_id: str
    action_type: str
    decision: Literal["allow", "deny", "require_approval"]
    risk_score: float
    reasons: list[dict[str, Any]]
    input: dict[str, Any] = Field(
        description="`{request, context}` as evaluated, every detected PII entity masked."
    )
    policy_version: str
    evaluated_us: float
    created_at: str = Field(description="ISO 8601, with its UTC offset.")

    @classmethod
    def of(cls, row: DecisionRow) -> DecisionOut:
        return cls(
            decision_id=row.decision_id,
            agency=row.agency,
            agent_id=row.agent_id,
            action_type=row.action_type,
            decision=row.decision,
            risk_score=row.risk_score,
            reasons=row.reasons,
            input=row.input,
            policy_version=row.policy_version,
            evaluated_us=row.evaluated_us,
            created_at=row.created_at.isoformat(),
        )


class DecisionList(BaseModel):
    items: list[DecisionOut] = Field(description="Newest first.")


class SimulatedChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    decision_id: str
    agent_id: str
    action_type: str
    at: datetime = Field(description="When the recorded decision was made.")
    before: Literal["allow", "deny", "require_approval"]
    after: Literal["allow", "deny", "require_approval"]
    new_reasons: list[dict[str, Any]] = Field(
        description="The candidate's blocking reasons the recorded decision did not have."
    )
    cleared_reasons: list[str] = Field(
        description="Codes of the recorded blocking reasons the candidate no longer gives."
    )


class SimulationOut(BaseModel):
    """Which of the last N decisions a candidate policy would change, and why."""

    model_config = ConfigDict(from_attributes=True)
    agency: str
    evaluated: int
    changed: int
    transitions: dict[str, int] = Field(
        description="How many decisions went from each decision to each, e.g. `allow->deny`."
    )
    changes: list[SimulatedChangeOut]

    @classmethod
    def of(cls, simulation: Simulation) -> SimulationOut:
        return cls.model_validate(simulation, from_attributes=True)
