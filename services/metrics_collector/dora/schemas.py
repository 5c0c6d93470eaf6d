"""HTTP I/O of the DORA feature (the report itself is ``domain.dora_schema.DoraReport``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from metrics_collector.domain.metrics.calculators import DoraReport

DAY_S = 86_400.0


class DoraResponse(DoraReport):
    """``GET /v1/metrics/dora``: the report of docs/metrics.md "Output", for one agency."""

    agency: str
    # Selected slices whose latest changes were still being rebuilt (normally 0).
    stale_slices: int


class JsonSchemaDocument(BaseModel):
    """``GET /v1/metrics/dora/schema``: the JSON Schema (draft 2020-12, as pydantic writes it)
    of the ``GET /v1/metrics/dora`` answer: an object schema, its properties and the
    definitions they refer to. The property and definition schemas are JSON Schema themselves."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: str
    description: str
    type: Literal["object"]
    properties: dict[str, dict[str, Any]] = Field(description="The schema of each field.")
    required: list[str] = Field(description="The fields every answer has.")
    defs: dict[str, dict[str, Any]] = Field(
        alias="$defs", description="The schemas the properties refer to (`$ref`)."
    )


class LinkingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Literal["explicit", "latest_before", "window"] = Field(
        default="latest_before", description="How an incident finds the deployment it blames."
    )
    max_age_s: float = Field(
        default=7 * DAY_S,
        ge=0,
        le=365 * DAY_S,
        description="latest_before: the oldest deployment an incident may blame (seconds).",
    )
    window_s: float = Field(
        default=DAY_S,
        ge=0,
        le=90 * DAY_S,
        description="window: blame every deployment finished this long before the incident.",
    )
    explicit_first: bool = Field(
        default=True,
        description="The heuristic strategies honour a caused_by naming a known deployment.",
    )


class DoraSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    linking: LinkingSettings


class DoraSettings(BaseModel):
    agency: str
    linking: LinkingSettings
    is_default: bool = Field(description="True until the agency's settings are first written.")
    updated_by: str | None = None
    updated_at: datetime | None = None
