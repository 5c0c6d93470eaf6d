"""FastAPI dependencies of the webhooks: who may manage secrets, and a delivery's query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import AfterValidator

from cortex_contracts.names import NAME_RULE
from gateway.auth.deps import require
from gateway.domain.keys import READ_ROLES, Principal, Role
from gateway.events.schemas import checked_name

SecretAdmin = Annotated[Principal, Depends(require(Role.POLICY_ADMIN))]
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
# A delivery carries no API key: ``?agency=`` says whose secret its signature is checked with.
AgencySlug = Annotated[
    str, Query(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
]


def _name_or_none(value: str | None) -> str | None:
    return None if value is None else checked_name(value)


Name = Annotated[
    str | None, Query(description=f"A name: {NAME_RULE}."), AfterValidator(_name_or_none)
]
"""?service= / ?environment=: the name rule of POST /v1/events (cortex_contracts.names)."""
