"""What an evaluation reads: the action an agent asks to take and what the service knows besides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policy_engine.domain.document.schema import DATA_CLASSES, DataClass

_DATA_RANK = {name: rank for rank, name in enumerate(DATA_CLASSES)}


@dataclass(frozen=True, slots=True)
class BudgetUsage:
    """Usage so far in the current UTC day / month (reservations included)."""

    agency_daily_usd: float = 0.0
    agency_daily_tokens: int = 0
    agency_monthly_usd: float = 0.0
    agency_monthly_tokens: int = 0
    agent_daily_usd: float = 0.0
    agent_daily_tokens: int = 0
    agent_monthly_usd: float = 0.0
    agent_monthly_tokens: int = 0

    def as_tree(self) -> dict[str, Any]:
        return {
            scope: {
                period: {
                    unit: getattr(self, f"{scope}_{period}_{unit}") for unit in ("usd", "tokens")
                }
                for period in ("daily", "monthly")
            }
            for scope in ("agency", "agent")
        }


@dataclass(frozen=True, slots=True)
class AuthorizeInput:
    """An action an agent asks to take (``POST /v1/authorize``)."""

    agency: str
    agent_id: str
    action_type: str
    resource: str = ""
    team: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    autonomy_level: int = 0
    """Autonomy the agent wants for this action, 0..4 (L0..L4)."""
    data_class: DataClass = "public"
    """Most sensitive data the action sends out."""
    destination: str | None = None
    estimated_cost_usd: float = 0.0
    estimated_tokens: int = 0
    deployment_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Free-form fields, visible to conditions as ``request``."""

    def __post_init__(self) -> None:
        if type(self.autonomy_level) is not int or not 0 <= self.autonomy_level <= 4:
            raise ValueError(f"autonomy_level must be 0..4, got {self.autonomy_level!r}")
        if self.data_class not in _DATA_RANK:
            raise ValueError(f"data_class must be one of {DATA_CLASSES}, got {self.data_class!r}")
        if self.estimated_cost_usd < 0 or self.estimated_tokens < 0:
            raise ValueError("estimated cost and tokens must not be negative")


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What the service knows besides the request: PII scan, budget usage, history, time."""

    now: datetime
    pii_entities_found: Mapping[str, int] = field(default_factory=dict)
    """Entity → values found, over every scanned field of the request."""
    payload_oversize: bool = False
    """Some scanned field (the payload, context, labels) could not be scanned fully."""
    payload_bytes: int | None = None
    pii_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Entity → the request fields it was found in (``payload``, ``context``, …), for reasons;
    an entity not listed here was found in ``payload``."""
    oversize_fields: tuple[str, ...] = ()
    """The fields that could not be scanned fully (``payload`` when not said)."""
    budget: BudgetUsage = field(default_factory=BudgetUsage)
    recent_violations: int = 0

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
