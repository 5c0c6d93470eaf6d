from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class PolicyVersionInfo(BaseModel):
    version: int
    layer: str
    agency: str | None
    team: str | None
    content_hash: str
    author: str
    message: str
    rollback_of: int | None
    created_at: datetime


class PolicyVersionOut(PolicyVersionInfo):
    content_type: str
    source: str = Field(description="The document as it was published (YAML or JSON).")
    document: dict[str, Any] = Field(description="The normalised document.")
    created: bool = Field(default=False, description="False when the content was unchanged.")


class PolicyHistory(BaseModel):
    scope: str
    items: list[PolicyVersionInfo]


class RollbackRequest(BaseModel):
    to_version: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=2000)


class ValidationResult(BaseModel):
    valid: bool
    issues: list[dict[str, Any]]
