"""FastAPI dependencies: who is calling, may they, and for which agency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from cortex_kit.errors import CortexError, Forbidden
from cortex_kit.runtime import DbSession
from gateway.auth.service import agency_slug, authenticate
from gateway.domain.keys import Principal, Role
from gateway.state import gateway_state


async def _bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks its role (admin always may)."""
    allowed = frozenset(roles)

    async def _principal(
        request: Request, session: DbSession, token: Annotated[str | None, Depends(_bearer)]
    ) -> Principal:
        principal = await authenticate(session, token, gateway_state(request).key_cache)
        if not principal.may(allowed):
            raise Forbidden(
                f"Role {principal.role.value!r} may not call {request.method} {request.url.path}.",
                remediation="Use a key with one of the roles: "
                + ", ".join(sorted(r.value for r in allowed | {Role.ADMIN})),
                code="role_forbidden",
                extra={"required_roles": sorted(r.value for r in allowed | {Role.ADMIN})},
            )
        return principal

    return _principal


def resolve_agency(principal: Principal, requested: str | None) -> str:
    """The agency a call acts on: the key's own, or the requested one for org-wide keys."""
    if principal.all_agencies:
        if not requested:
            raise CortexError(
                "This key spans every agency, so the request must name one.",
                remediation="Add `agency=<slug>` (query parameter or body field).",
                code="agency_required",
            )
        return agency_slug(requested)
    if requested and requested != principal.agency:
        raise Forbidden(
            f"This key belongs to agency {principal.agency!r}, not {requested!r}.",
            remediation="Use a key of that agency, or omit `agency` to act on your own.",
            code="agency_forbidden",
        )
    return principal.agency
