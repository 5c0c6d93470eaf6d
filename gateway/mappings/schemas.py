"""HTTP I/O of the delivery mappings (docs/metrics.md "Mappings")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cortex_kit.text import IdentifierText
from gateway.domain.mappings import environment_key, repository_key
from gateway.events.schemas import Name

MAX_ENTRIES = 10_000
"""Entries per map of one document (repositories, PagerDuty services, aliases)."""


def _repository(value: str) -> str:
    key = repository_key(value)
    if "/" not in key or " " in key or not key.replace("/", "").strip("."):
        raise ValueError(
            "name a repository as owner/name (GitHub full_name, GitLab path_with_namespace), "
            "optionally after its host: github.com/acme/checkout"
        )
    return value.strip()


def _source(value: str) -> str:
    if not environment_key(value):
        raise ValueError("add a letter or digit: the name must hold one to be matched")
    return value.strip()


RepositoryName = Annotated[
    IdentifierText, Field(min_length=3, max_length=300), AfterValidator(_repository)
]
SourceName = Annotated[IdentifierText, Field(min_length=1, max_length=200), AfterValidator(_source)]
"""A name as a tool sends it (``Production EU``, a PagerDuty service id or name)."""
BranchPattern = Annotated[
    IdentifierText,
    Field(
        min_length=1,
        max_length=255,
        description="A branch name or a pattern: * matches any characters (/ included), "
        "? one, [abc] one of them.",
    ),
]


class RepositoryMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Name | None = Field(
        default=None,
        description="The service its changes and deployments count for "
        "(default: the repository's name).",
    )
    branches: list[BranchPattern] | None = Field(
        default=None,
        max_length=100,
        description="The branches whose pushes and merges count (default: the repository's "
        "default branch); [] counts none.",
    )


class PagerDutyServiceMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Name = Field(description="The service its incidents count for.")
    environment: Name | None = Field(
        default=None, description="The environment of its incidents (default: production)."
    )


class MappingDocument(BaseModel):
    """What ``PUT /v1/metrics/mappings`` takes (the file ``cortex dora mappings set`` sends)."""

    model_config = ConfigDict(extra="forbid")

    repositories: dict[RepositoryName, RepositoryMapping] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="owner/name or host/owner/name → its service and counted branches.",
    )
    pagerduty_services: dict[SourceName, PagerDutyServiceMapping] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="PagerDuty service id (PF9KMXH) or name → its service and environment.",
    )
    environments: dict[SourceName, Name] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="An environment name as tools send it → the environment it is "
        "(prod → production).",
    )


class Mapping(BaseModel):
    """The agency's mapping in force (or an older version of it)."""

    agency: str
    version: int = Field(description="0 until a mapping is first set (every default applies).")
    is_default: bool
    mapping: MappingDocument
    updated_by: str | None = Field(default=None, description="The API key that set it.")
    updated_at: datetime | None = None


class MappingVersion(BaseModel):
    version: int
    updated_by: str | None
    updated_at: datetime
    repositories: int = Field(description="How many repositories it maps.")
    pagerduty_services: int
    environments: int


class MappingVersions(BaseModel):
    agency: str
    items: list[MappingVersion] = Field(description="Newest first.")
