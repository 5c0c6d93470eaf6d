"""The agent registry's pydantic I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cortex_kit.text import IdentifierText, StorableText
from rollout_orchestrator.agents.repository import Agent
from rollout_orchestrator.domain.plan import LabelKey, LabelValue, Revision

AgentId = Annotated[IdentifierText, Field(min_length=1, max_length=200)]
HealthKey = Annotated[IdentifierText, Field(min_length=1, max_length=100)]
HealthValue = bool | int | float | Annotated[StorableText, Field(max_length=1000)]
AgentStatus = Literal["healthy", "unhealthy", "unknown", "stale"]


class AgentRegister(BaseModel):
    """An agent says who it is; registering again updates labels, runtime and revision."""

    model_config = ConfigDict(extra="forbid")
    id: AgentId
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=50)
    runtime: Annotated[IdentifierText, Field(min_length=1, max_length=100)]
    current_revision: Revision


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    applied_revision: Revision
    healthy: bool
    health: dict[HealthKey, HealthValue] = Field(
        default_factory=dict, max_length=50, description="Details and metrics, flat."
    )


class DesiredIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: Revision


class AgentOut(BaseModel):
    id: str
    labels: dict[str, str]
    runtime: str
    current_revision: str
    desired_revision: str
    applied_revision: str | None
    healthy: bool | None
    health: dict[str, bool | int | float | str]
    registered_at: datetime
    last_heartbeat_at: datetime | None
    stale: bool
    status: AgentStatus = Field(
        description="stale (no heartbeat for stale_after_s), else the last heartbeat's word; "
        "unknown before the first."
    )

    @classmethod
    def of(cls, agent: Agent, stale: bool) -> AgentOut:
        if stale:
            status: AgentStatus = "stale"
        elif agent.healthy is None:
            status = "unknown"
        else:
            status = "healthy" if agent.healthy else "unhealthy"
        return cls(
            id=agent.id,
            labels=agent.labels,
            runtime=agent.runtime,
            current_revision=agent.current_revision,
            desired_revision=agent.desired_revision,
            applied_revision=agent.applied_revision,
            healthy=agent.healthy,
            health=agent.health,
            registered_at=agent.registered_at,
            last_heartbeat_at=agent.last_heartbeat_at,
            stale=stale,
            status=status,
        )


class AgentList(BaseModel):
    items: list[AgentOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null: last.")


class DesiredOut(BaseModel):
    agent_id: str
    desired_revision: str
    known: str | None
    changed: bool = Field(description="desired_revision differs from the `known` revision.")
