from datetime import datetime

from pydantic import BaseModel, Field

from cortex_kit.text import IdentifierText, StorableText
from gateway.domain.keys import Role


class KeyCreate(BaseModel):
    agency: IdentifierText = Field(
        description="Agency slug, or '*' for an org-wide key (admin only)."
    )
    role: Role
    name: StorableText = Field(default="", max_length=200)


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="The secret token. Shown once; store it now.")
    agency: str
    role: Role
    name: str


class KeyInfo(BaseModel):
    id: str
    name: str
    agency: str
    role: Role
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyList(BaseModel):
    items: list[KeyInfo]
