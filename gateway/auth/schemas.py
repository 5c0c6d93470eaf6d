from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from cortex_kit.text import IdentifierText, StorableText
from gateway.domain.keys import (
    APPROVAL_WORD,
    MAX_APPROVAL_ROLES,
    MAX_ROUTE_SCOPES,
    ROUTE_SCOPE,
    Role,
)

ApprovalWord = Annotated[str, Field(pattern=APPROVAL_WORD, examples=["data-owner"])]
RouteScope = Annotated[
    str, Field(pattern=ROUTE_SCOPE, max_length=300, examples=["POST /v1/authorize"])
]


class KeyCreate(BaseModel):
    agency: IdentifierText = Field(
        description="Agency slug, or '*' for an org-wide key (admin only)."
    )
    role: Role
    name: StorableText = Field(default="", max_length=200)
    approval_roles: list[ApprovalWord] = Field(
        default_factory=list,
        max_length=MAX_APPROVAL_ROLES,
        description="Roles an approval policy may require beyond the key's role (e.g. "
        "`data-owner`); only on `approver` and `admin` keys.",
    )
    team: ApprovalWord | None = Field(
        default=None, description="The caller's team, for the separation-of-duties rule."
    )
    routes: list[RouteScope] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ROUTE_SCOPES,
        description="Limit the key to these routes (`METHOD /v1/path/{param}`, `*` for any "
        "method, a trailing `/*` for every route below); each must name a route of the API. "
        "Omitted: every route the role allows.",
    )


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="The secret token. Shown once; store it now.")
    agency: str
    role: Role
    name: str
    approval_roles: list[str]
    team: str | None
    routes: list[str] | None


class KeyInfo(BaseModel):
    id: str
    name: str
    agency: str
    role: Role
    approval_roles: list[str]
    team: str | None
    routes: list[str] | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyList(BaseModel):
    items: list[KeyInfo]
