"""Request dependencies of the approvals routes: who calls (shared with the notification
routes: the principal, roles and team the gateway signs, cortex_kit.internal_auth) and where a
page of the list starts (the keyset cursor)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Query

from approval_workflow.domain.model import Principal
from approval_workflow.errors import InvalidCursor, InvalidRoles, PrincipalRequired
from cortex_kit.web import PRINCIPAL_HEADER, ROLES_HEADER, TEAM_HEADER

_WORD = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_MAX_ROLES = 50


def _words(value: str | None, header: str) -> list[str]:
    if not value:
        return []
    words = [w.strip() for w in value.split(",") if w.strip()]
    if len(words) > _MAX_ROLES or not all(_WORD.fullmatch(w) for w in words):
        raise InvalidRoles(
            f"{header} must be up to {_MAX_ROLES} comma-separated lowercase identifiers.",
            remediation="Call through the gateway, which sends the caller's roles and team.",
        )
    return words


async def _caller(
    principal: Annotated[str | None, Header(alias=PRINCIPAL_HEADER)] = None,
    roles: Annotated[str | None, Header(alias=ROLES_HEADER)] = None,
    team: Annotated[str | None, Header(alias=TEAM_HEADER)] = None,
) -> Principal:
    """Who calls: ``X-Cortex-Principal`` (required), ``X-Cortex-Roles`` (comma-separated) and
    ``X-Cortex-Team``, all signed by the gateway (cortex_kit.internal_auth)."""
    if not principal:
        raise PrincipalRequired(
            f"The {PRINCIPAL_HEADER} header is missing.",
            remediation="Call the service through the gateway, which sets the caller.",
        )
    teams = _words(team, TEAM_HEADER)
    if len(teams) > 1:
        raise InvalidRoles(
            f"{TEAM_HEADER} names one team.", remediation="Send a single team identifier."
        )
    return Principal(principal, frozenset(_words(roles, ROLES_HEADER)), teams[0] if teams else None)


Caller = Annotated[Principal, Depends(_caller)]


def encode_cursor(last: tuple[datetime, str] | None) -> str | None:
    if last is None:
        return None
    raw = f"{last[0].isoformat()}|{last[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, approval_id = raw.partition("|")
        when = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        when, approval_id = None, ""
    if when is None or when.tzinfo is None or not approval_id:
        raise InvalidCursor(
            "The cursor is not one this service gave.",
            remediation="Pass the `next_cursor` of the previous page as it was, or omit it.",
        )
    return when, approval_id


def after_cursor(
    cursor: Annotated[str | None, Query(max_length=600)] = None,
) -> tuple[datetime, str] | None:
    """Where the page starts: after the last item of the previous page (``next_cursor``)."""
    return _decode_cursor(cursor)


After = Annotated[tuple[datetime, str] | None, Depends(after_cursor)]
