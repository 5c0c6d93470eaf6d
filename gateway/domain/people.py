"""People signed in with OpenID Connect: a verified token's claims → the caller's principal.

Pure rules (no I/O): which claims name the role, the agency, the team and the approval roles,
and how an identity-provider group maps to a role. Verifying the token is
``gateway.auth.oidc``'s job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.keys import (
    ALL_AGENCIES,
    APPROVAL_WORD,
    DECIDING_ROLES,
    MAX_APPROVAL_ROLES,
    Principal,
    Role,
)

PRECEDENCE = (
    Role.ADMIN,
    Role.POLICY_ADMIN,
    Role.DEPLOYER,
    Role.APPROVER,
    Role.AGENT,
    Role.VIEWER,
)
"""When groups map to several roles, the first of these wins."""
_SUBJECT = re.compile(r"^[A-Za-z0-9._@:+-]{1,128}$")
_WORD = re.compile(APPROVAL_WORD)


@dataclass(frozen=True)
class ClaimNames:
    """Where the gateway reads each part of the principal in a token's claims."""

    role: str = "cortex_role"
    groups: str = "groups"
    agency: str = "cortex_agency"
    team: str = "cortex_team"
    approval_roles: str = "cortex_approval_roles"
    role_map: Mapping[str, Role] = field(default_factory=dict)
    """An identity-provider group → the role its members get (used without a role claim)."""
    default_agency: str | None = None
    """The agency of people whose token names none (a single-agency installation)."""


class ClaimsInsufficient(ValueError):
    """The token is valid but does not say what the person may do."""


def person_id(issuer: str, subject: str) -> str:
    """The principal's id: ``oidc:<sub>``, or a hash of issuer and subject when ``sub`` holds
    characters an id may not (it is signed to the services and shown as approver)."""
    if _SUBJECT.match(subject):
        return f"oidc:{subject}"
    digest = hashlib.sha256(f"{issuer}\x1f{subject}".encode()).hexdigest()[:24]
    return f"oidc:sha256-{digest}"


def _role(claims: Mapping[str, Any], names: ClaimNames) -> Role:
    named = claims.get(names.role)
    if isinstance(named, str) and named in {r.value for r in Role}:
        return Role(named)
    groups = claims.get(names.groups)
    mapped = {names.role_map[g] for g in _strings(groups) if g in names.role_map}
    for role in PRECEDENCE:
        if role in mapped:
            return role
    raise ClaimsInsufficient(
        f"the token has no `{names.role}` claim naming a role, and none of its "
        f"`{names.groups}` is mapped to one"
    )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [v for v in value if isinstance(v, str)]
    return []


def _agency(claims: Mapping[str, Any], names: ClaimNames) -> str:
    agency = claims.get(names.agency, names.default_agency)
    if not isinstance(agency, str) or not agency:
        raise ClaimsInsufficient(f"the token has no `{names.agency}` claim")
    return agency


def principal_of(claims: Mapping[str, Any], names: ClaimNames) -> Principal:
    """The caller a verified token names. ``ClaimsInsufficient`` when it names no role or no
    agency; an org-wide person (agency ``*``) must be an admin."""
    role = _role(claims, names)
    agency = _agency(claims, names)
    if agency == ALL_AGENCIES and role is not Role.ADMIN:
        raise ClaimsInsufficient(f"only admins may span every agency, not a {role.value!r}")
    team = claims.get(names.team)
    approval_roles: tuple[str, ...] = ()
    if role in DECIDING_ROLES:
        words = [w for w in _strings(claims.get(names.approval_roles)) if _WORD.match(w)]
        approval_roles = tuple(dict.fromkeys(words))[:MAX_APPROVAL_ROLES]
    return Principal(
        key_id=person_id(str(claims.get("iss", "")), str(claims["sub"])),
        role=role,
        agency=agency,
        approval_roles=approval_roles,
        team=team if isinstance(team, str) and _WORD.match(team) else None,
    )


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (``header.payload.signature``, the header base64url JSON: ``ey…``)."""
    return token.count(".") == 2 and token.startswith("ey")
