from datetime import datetime

from pydantic import BaseModel, Field

from gateway.domain.keys import Role


class KeyCreate(BaseModel):
    agency: str = Field(description="Agency slug, or '*' for an org-wide key (admin only).")
    role: Role
    name: str = Field(default="", max_length=200)


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
