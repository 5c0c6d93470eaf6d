"""Use cases of API keys: authenticate, create, list, revoke, bootstrap."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts.subjects import validate_agency
from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from gateway.auth import repository
from gateway.auth.repository import KeyRow
from gateway.domain.keys import (
    ALL_AGENCIES,
    DECIDING_ROLES,
    Principal,
    Role,
    generate_token,
    hash_secret,
    parse_token,
    route_allowed,
    secret_matches,
)
from gateway.domain.people import looks_like_jwt
from gateway.errors import (
    ApprovalRolesNeedApprover,
    InvalidAgency,
    InvalidApiKey,
    KeyNotFound,
    MissingApiKey,
    UnknownRouteScope,
)

if TYPE_CHECKING:  # the verifier imports agency_slug from here
    from gateway.auth.oidc import OidcVerifier

log = get_logger("gateway.auth")
RESERVED_AGENCY = "org"
_REMEDY = "Send `Authorization: Bearer <api key>`; create keys with `cortex keys create`."


class KeyCache:
    """Verified tokens for a few seconds, so the hot path skips the database.

    Only keys that verified are kept, never a miss (a key created a moment ago works at
    once). A revoked key therefore stops working within ``ttl_s`` on other replicas
    (documented); the replica that revoked it forgets every key at once."""

    def __init__(self, ttl_s: float, max_keys: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._entries: TTLCache[bytes, Principal] = TTLCache(max_keys, ttl_s)

    def get(self, token: str) -> Principal | None:
        return self._entries.get(hash_secret(token))

    def put(self, token: str, principal: Principal) -> None:
        if self.ttl_s > 0:
            self._entries[hash_secret(token)] = principal

    def clear(self) -> None:
        self._entries.clear()


async def authenticate(
    db: Database, token: str | None, cache: KeyCache, people: OidcVerifier | None = None
) -> Principal:
    """The key's principal: from the cache when it verified recently, else from the database
    (a transaction of its own, opened only then — most requests hit the cache). With OIDC
    configured (``people``), a JWT is a person's token instead, verified on every call."""
    if not token:
        raise MissingApiKey("No API key was sent.", remediation=_REMEDY)
    cached = cache.get(token)
    if cached is not None:
        return cached
    parsed = parse_token(token)
    if parsed is None and people is not None and looks_like_jwt(token):
        return await people.principal(token)
    row = None
    if parsed is not None:
        async with db.session() as session:
            row = await repository.find_active(session, parsed.key_id)
    if parsed is None or row is None or not secret_matches(parsed.secret, row.secret_hash):
        raise InvalidApiKey("The API key is malformed, unknown or revoked.", remediation=_REMEDY)
    principal = Principal(
        key_id=row.id,
        role=row.role,
        agency=row.agency,
        approval_roles=tuple(row.approval_roles),
        team=row.team,
        routes=None if row.routes is None else tuple(row.routes),
    )
    cache.put(token, principal)
    return principal


def _valid_agency(agency: str) -> str:
    return agency if agency == ALL_AGENCIES else agency_slug(agency)


def agency_slug(agency: str) -> str:
    """A valid, non-reserved agency slug, or a 422 problem that says how to fix it."""
    if agency == RESERVED_AGENCY:
        raise InvalidAgency(
            f"{RESERVED_AGENCY!r} is reserved for the org baseline policy.",
            remediation="Choose another agency slug; org-wide keys use '*'.",
        )
    try:
        return validate_agency(agency)
    except ValueError as exc:
        raise InvalidAgency(
            str(exc),
            remediation="Agencies are slugs: lower-case letters, digits and '-', up to 63 chars.",
        ) from exc


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A key just created, with its secret token (shown this once, never stored)."""

    id: str
    key: str
    agency: str
    role: Role
    name: str
    approval_roles: list[str]
    team: str | None
    routes: list[str] | None


def check_route_scopes(scopes: Sequence[str], known: Collection[tuple[str, str]]) -> None:
    """422 unless every scope names at least one of the ``known`` (method, template) routes
    (a typo would otherwise make a key that can call nothing)."""
    unknown = [s for s in scopes if not any(route_allowed((s,), m, t) for m, t in known)]
    if unknown:
        raise UnknownRouteScope(
            f"{len(unknown)} route scope(s) name no route of the API: {', '.join(unknown)}.",
            remediation="Write each as `METHOD /v1/path/{param}` exactly as /openapi.json lists "
            "it (`*` for any method, a trailing `/*` for every route below a path).",
            extra={"unknown": unknown},
        )


async def create_key(
    session: AsyncSession,
    *,
    agency: str,
    role: Role,
    name: str,
    created_by: str,
    approval_roles: Sequence[str] = (),
    team: str | None = None,
    routes: Sequence[str] | None = None,
    known_routes: Collection[tuple[str, str]] = (),
) -> CreatedKey:
    token, key_id = generate_token()
    agency = _valid_agency(agency)
    approval_roles = list(dict.fromkeys(approval_roles))
    if approval_roles and role not in DECIDING_ROLES:
        raise ApprovalRolesNeedApprover(
            f"Approval roles only matter on a key that decides approvals, not on a "
            f"{role.value!r} key.",
            remediation="Give approval roles to an approver (or admin) key; a team may be set "
            "on any key.",
        )
    scopes = None if routes is None else list(dict.fromkeys(routes))
    if scopes is not None:
        check_route_scopes(scopes, known_routes)
    await repository.insert_key(
        session,
        id=key_id,
        secret_hash=hash_secret(token.split("_", 2)[2]),
        name=name,
        agency=agency,
        role=role,
        created_by=created_by,
        approval_roles=approval_roles,
        team=team,
        routes=scopes,
    )
    log.info("auth.key_created", key_id=key_id, agency=agency, role=role.value, by=created_by)
    return CreatedKey(key_id, token, agency, role, name, approval_roles, team, scopes)


async def list_keys(session: AsyncSession, principal: Principal) -> list[KeyRow]:
    return await repository.list_keys(session, None if principal.all_agencies else principal.agency)


async def revoke_key(
    session: AsyncSession, principal: Principal, key_id: str, cache: KeyCache
) -> None:
    row = await repository.find_active(session, key_id)
    if (
        row is None
        or not principal.sees(row.agency)
        or not await repository.revoke(session, key_id)
    ):
        raise KeyNotFound(
            f"No active API key {key_id!r}.", remediation="List keys with GET /v1/keys."
        )
    cache.clear()
    log.info("auth.key_revoked", key_id=key_id, by=principal.key_id)


async def bootstrap_admin(session: AsyncSession, token: str) -> bool:
    """Create the first admin key from ``token`` unless any key exists (first start only)."""
    parsed = parse_token(token)
    if parsed is None:
        raise ValueError(
            "the bootstrap admin key must look exactly like "
            "cvc_<12 hex>_<32 to 64 of A-Z a-z 0-9 _ ->"
        )
    await repository.lock_bootstrap(session)
    if await repository.any_key_exists(session):
        return False
    await repository.insert_key(
        session,
        id=parsed.key_id,
        secret_hash=hash_secret(parsed.secret),
        name="bootstrap admin",
        agency=ALL_AGENCIES,
        role=Role.ADMIN,
        created_by="bootstrap",
    )
    log.info("auth.bootstrap_admin_created", key_id=parsed.key_id)
    return True
