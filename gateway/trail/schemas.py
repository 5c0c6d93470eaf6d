"""The trail's answer: typed around, each element's ``value`` the owning service's answer as
returned (its schema is that route's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.trail import ElementState, FoundAs


class ElementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    state: ElementState = Field(
        description="found: `value` is the answer of `source`; none: nothing is linked; "
        "missing: linked, but the service does not know it (yet); unavailable: the service "
        "did not answer (`reason`)."
    )
    source: str | None = Field(
        description="The public route that answers the same `value` (`GET /v1/...`); a JSON "
        "pointer after `#` when `value` is a member of that answer."
    )
    value: dict[str, Any] | None = Field(description="That route's answer, as returned.")
    reason: str | None


class LinksOut(BaseModel):
    deployment_id: str | None
    decision_id: str | None
    approval_id: str | None
    incident_ids: list[str]


class ImpactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    counted_as_failed: bool = Field(description="In the change failure rate as failed.")
    failed_because: list[str]
    detected_at: datetime | None
    recovered_at: datetime | None
    recovery_s: float | None = Field(description="Detection → recovery (recovery time).")


class DoraOut(BaseModel):
    deployment: ElementOut = Field(description="`GET /v1/events/deployment/{run id}`.")
    rollback: ElementOut = Field(description="`GET /v1/events/deployment/{run id}:rollback`.")
    incidents: list[ElementOut] = Field(
        description="Incidents naming the run as `caused_by_deployment` (the latest 1000)."
    )
    incidents_reason: str | None = Field(description="Why incidents could not be looked for.")
    impact: ImpactOut | None = Field(description="What these facts count for (docs/metrics.md).")


class TrailOut(BaseModel):
    id: str = Field(description="The id asked for.")
    agency: str
    found_as: FoundAs = Field(description="What the id is.")
    links: LinksOut
    deployment: ElementOut = Field(description="`GET /v1/deployments/{id}`: the run's record.")
    decision: ElementOut = Field(
        description="The policy decision: the run's `decision` (`GET /v1/deployments/{id}#"
        "/decision`), or an agent action's (`GET /v1/decisions/{id}`)."
    )
    approval: ElementOut = Field(description="`GET /v1/approvals/{id}`, with its trail.")
    dora: DoraOut
