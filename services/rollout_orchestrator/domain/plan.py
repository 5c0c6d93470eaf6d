"""The deployment plan: what changes, on which agents, in which batches, behind which gate."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from rollout_orchestrator.domain.selector import LABEL_KEY, LABEL_VALUE

AgentId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Revision = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
LabelKey = Annotated[str, Field(pattern=LABEL_KEY)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE)]
Percentage = Annotated[str, Field(pattern=r"^(100|[1-9][0-9]?)%$")]
BatchSize = Annotated[int, Field(ge=1, le=100_000)] | Percentage
"""One batch: a number of agents, or ``"25%"`` of the targets (rounded up, at least 1)."""
MissingData = Literal["hold", "extend", "fail"]
OnFailure = Literal["rollback", "pause"]
MAX_TARGET_IDS = 10_000
_PERCENT = re.compile(r"^(\d+)%$")


class Targets(BaseModel):
    """Which agents: those whose labels match ``selector`` (equality), or the ``ids`` listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    selector: dict[LabelKey, LabelValue] | None = Field(default=None, max_length=20)
    ids: list[AgentId] | None = Field(default=None, min_length=1, max_length=MAX_TARGET_IDS)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.selector is None) == (self.ids is None):
            raise ValueError("targets name either a selector or ids, not both nor neither")
        if self.ids is not None and len(set(self.ids)) != len(self.ids):
            raise ValueError("targets.ids names an agent twice")
        return self


class Change(BaseModel):
    """What the agents get: a new ``revision`` made of a config patch, a model, a prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    revision: Revision
    config_patch: dict[str, JsonValue] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    prompt_revision: Revision | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.config_patch is None and self.model is None and self.prompt_revision is None:
            raise ValueError("a change names a config_patch, a model or a prompt_revision")
        return self


class HealthGate(BaseModel):
    """When a batch counts as healthy (``gate.gate_verdict``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_healthy_ratio: float = Field(default=1.0, gt=0, le=1)
    observation_s: int = Field(default=60, ge=0, le=86_400)
    consecutive_failures: int = Field(default=1, ge=1, le=100)
    min_sample: int = Field(default=1, ge=1, le=100_000)
    missing_data: MissingData = "hold"
    hold_limit_s: int = Field(default=600, ge=0, le=7 * 86_400)


class Strategy(BaseModel):
    """How the targets are split: explicit ``batches`` and/or at most ``max_batch_size`` each."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_batch_size: int | None = Field(default=None, ge=1, le=100_000)
    batches: list[BatchSize] | None = Field(default=None, min_length=1, max_length=100)
    pause_between_batches_s: int = Field(default=0, ge=0, le=86_400)
    health_gate: HealthGate = HealthGate()

    @model_validator(mode="after")
    def _sized(self) -> Self:
        if self.max_batch_size is None and self.batches is None:
            raise ValueError("a strategy names max_batch_size, batches or both")
        return self


class DeploymentPlan(BaseModel):
    """A whole plan (``docs/rollouts.md`` "The plan")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    targets: Targets
    change: Change
    strategy: Strategy
    on_failure: OnFailure = "rollback"
    seed: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Orders the targets (a stable hash of seed and id); default: the revision.",
    )

    @property
    def order_seed(self) -> str:
        return self.seed if self.seed is not None else self.change.revision


def resolve_size(size: int | str, total: int) -> int:
    """A batch's size out of ``total`` targets: a count, or a percentage rounded up (≥ 1)."""
    if isinstance(size, int):
        return size
    found = _PERCENT.fullmatch(size)
    if found is None:  # the schema admits nothing else
        raise ValueError(f"not a percentage: {size!r}")
    return max(1, -(-total * int(found.group(1)) // 100))
