"""API keys and roles: pure rules (format, hashing, permissions, agency scope)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "cvc"
ALL_AGENCIES = "*"
_TOKEN = re.compile(r"^cvc_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


class Role(StrEnum):
    ADMIN = "admin"
    POLICY_ADMIN = "policy-admin"
    DEPLOYER = "deployer"
    APPROVER = "approver"
    AGENT = "agent"
    VIEWER = "viewer"


READ_ROLES = frozenset(Role)
"""Every role may read what its agency owns."""

DECIDING_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
"""The key roles that may decide approval requests."""

APPROVAL_WORD = r"^[a-z0-9][a-z0-9._-]{0,62}$"
"""An approval role or a team: the lowercase identifiers the approval workflow reads
(``X-Cortex-Roles``, ``X-Cortex-Team``)."""
MAX_APPROVAL_ROLES = 20


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


def parse_token(token: str) -> ParsedKey | None:
    match = _TOKEN.match(token)
    return ParsedKey(match.group(1), match.group(2)) if match else None


def generate_token() -> tuple[str, str]:
    """A new ``cvc_<id>_<secret>`` token and its id; the token is shown once, never stored."""
    key_id = secrets.token_hex(6)
    return f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}", key_id


def hash_secret(secret: str) -> bytes:
    # Secrets are 256-bit random values, so a fast hash is safe (no dictionary to attack).
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


ROUTE_SCOPE = r"^(\*|GET|POST|PUT|PATCH|DELETE) (/v1(/[A-Za-z0-9_.{}-]+)*)(/\*)?$"
"""A route a key may call: ``METHOD /v1/path/{template}``, ``*`` for any method, a trailing
``/*`` for every route below the path (``GET /v1/agents/*``)."""
MAX_ROUTE_SCOPES = 100


def route_allowed(scopes: tuple[str, ...] | None, method: str, template: str) -> bool:
    """Whether a key limited to ``scopes`` (None: not limited) may call ``method template``."""
    if scopes is None:
        return True
    return any(_scope_matches(scope, method, template) for scope in scopes)


def _scope_matches(scope: str, method: str, template: str) -> bool:
    scope_method, _, path = scope.partition(" ")
    if scope_method not in ("*", method):
        return False
    if path.endswith("/*"):
        return template.startswith(path[:-1])
    return template == path


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    agency: str
    approval_roles: tuple[str, ...] = ()
    """Roles an approval policy may name beyond the key's role (``data-owner``, ``security``)."""
    team: str | None = None
    routes: tuple[str, ...] | None = None
    """The routes the key may call (``ROUTE_SCOPE`` patterns); None: every route its role
    allows."""

    @property
    def all_agencies(self) -> bool:
        return self.agency == ALL_AGENCIES

    def may(self, allowed: frozenset[Role]) -> bool:
        return self.role is Role.ADMIN or self.role in allowed

    def sees(self, agency: str) -> bool:
        return self.all_agencies or self.agency == agency

    @property
    def approver_roles(self) -> tuple[str, ...]:
        """What the approval workflow is told the caller holds: the key's role, then its
        approval roles (each once)."""
        return tuple(dict.fromkeys((self.role.value, *self.approval_roles)))
