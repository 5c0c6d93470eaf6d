"""FastAPI dependencies: who is calling, may they, and for which agency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request

from cortex_kit.errors import AgencyForbidden, AgencyRequired
from cortex_kit.runtime import get_runtime
from gateway.audit.trail import note_actor, note_agency
from gateway.auth.service import agency_slug, authenticate
from gateway.domain.keys import ALL_AGENCIES, Principal, Role, route_allowed
from gateway.errors import AgencyConflict, OrgAdminRequired, RoleForbidden, RouteNotInKeyScope
from gateway.state import gateway_state


async def _bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks its role (admin always may)."""
    allowed = frozenset(roles)

    async def _principal(
        request: Request, token: Annotated[str | None, Depends(_bearer)]
    ) -> Principal:
        state = gateway_state(request)
        principal = await authenticate(
            get_runtime(request).db, token, state.key_cache, state.people
        )
        note_actor(request, principal)
        if not principal.may(allowed):
            raise RoleForbidden(
                f"Role {principal.role.value!r} may not call {request.method} {request.url.path}.",
                remediation="Use a key with one of the roles: "
                + ", ".join(sorted(r.value for r in allowed | {Role.ADMIN})),
                extra={"required_roles": sorted(r.value for r in allowed | {Role.ADMIN})},
            )
        if principal.routes is not None:
            _check_route_scope(principal, request)
        return principal

    return _principal


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, route template) of every route of the public API, as /openapi.json lists it."""
    paths: dict[str, dict[str, object]] = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def _check_route_scope(principal: Principal, request: Request) -> None:
    template = str(getattr(request.scope.get("route"), "path", request.url.path))
    if not route_allowed(principal.routes, request.method, template):
        raise RouteNotInKeyScope(
            f"This key may not call {request.method} {template}: it is limited to "
            f"{len(principal.routes or ())} route(s).",
            remediation="Use a key whose `routes` include this one, or create one: "
            "`cortex keys create … --route 'METHOD /v1/path'`.",
            extra={"key_routes": list(principal.routes or ())},
        )


def resolve_agency(principal: Principal, request: Request, *named: str | None) -> str:
    """The agency a call acts on: the key's own, or the requested one for org-wide keys.

    Every place a request may name an agency counts — each ``?agency=`` value and whatever the
    endpoint passes in ``named`` (a path segment, a body field). They must agree (else 422
    ``agency_conflict``: nothing is silently resolved) and the key must be allowed to act on
    the one they name (else 403). The audit chain records it as the agency acted on."""
    agency = _resolved(principal, request, *named)
    note_agency(request, agency)
    return agency


def _resolved(principal: Principal, request: Request, *named: str | None) -> str:
    mentioned = [a for a in (*request.query_params.getlist("agency"), *named) if a is not None]
    requested = _agreed(mentioned)
    if principal.all_agencies:
        if not requested:
            raise AgencyRequired(
                "This key spans every agency, so the request must name one.",
                remediation="Add `agency=<slug>` (query parameter or body field).",
            )
        return agency_slug(requested)
    if requested is not None and requested != principal.agency:
        raise AgencyForbidden(
            f"This key belongs to agency {principal.agency!r}, not {requested!r}.",
            remediation="Use a key of that agency, or omit `agency` to act on your own.",
        )
    return principal.agency


def key_agency(admin: Principal, request: Request, requested: str) -> str:
    """The agency of a key an admin creates: ``*`` (an org-wide key) only when an org-wide admin
    asks for it, else the agency the admin acts on (:func:`resolve_agency`)."""
    if requested == ALL_AGENCIES and admin.all_agencies:
        return ALL_AGENCIES
    return resolve_agency(admin, request, requested)


def _agreed(mentioned: list[str]) -> str | None:
    distinct = sorted(set(mentioned))
    if len(distinct) > 1:
        raise AgencyConflict(
            f"The request names several agencies: {', '.join(map(repr, distinct))}.",
            remediation="Name one agency, once: in the path, the body or `?agency=`, not "
            "different ones in several places.",
            extra={"agencies": distinct},
        )
    return distinct[0] if distinct else None


def require_org_wide(principal: Principal, request: Request) -> None:
    """Writes that govern every agency (the org baseline) need an org-wide admin key."""
    if not principal.all_agencies:
        raise OrgAdminRequired(
            f"{request.method} {request.url.path} changes the org baseline, which governs every "
            f"agency; this key is scoped to agency {principal.agency!r}.",
            remediation="Use an org-wide admin key (`cortex keys create --agency '*' --role "
            "admin`).",
        )
