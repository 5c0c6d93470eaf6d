"""Every state-changing request (POST, PUT, PATCH, DELETE) onto the audit chain.

Driven by the route table, so a new route is covered without a line of its own:

- a route whose endpoint uses ``DbSession`` (the gateway owns the change: keys, mappings,
  webhook secrets, accepted events) gets its row in the same transaction, just before the
  commit, with the route's success status as outcome (``cortex_kit.runtime.before_commit``);
- any other answer — a relayed call once the service answered, a refusal (403, 404, 422), a
  failure — gets its row in a transaction of its own before the answer is sent on.

Requests without an authenticated caller are chained only when they changed something (a
signed webhook delivery): a flood of bad keys must not be able to lengthen the chain. A few
routes that ask rather than change, and are recorded by their own service, are left out
(``NOT_AUDITED``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

import structlog
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cortex_kit.logs import get_logger
from cortex_kit.runtime import Runtime, before_commit
from gateway.audit import service
from gateway.domain.audit import AuditEntry
from gateway.domain.keys import Principal

log = get_logger("gateway.audit")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_AUDITED = (
    # An agent's question and its usage report: the policy engine's decision log has each.
    re.compile(r"^POST /v1/authorize$"),
    # Checks that store nothing.
    re.compile(r"^POST /v1/policies/validate$"),
    re.compile(r"^POST /v1/preflight$"),
    # Liveness of agents (thousands a minute): the agent registry keeps the last one.
    re.compile(r"^POST /v1/agents/\{[^}]+\}/heartbeat$"),
)
_TRAIL = "cortex.audit"


@dataclass
class _Trail:
    """What the request's dependencies learnt: who called, for which agency, and whether the
    row was already written with the change."""

    principal: Principal | None = None
    agency: str | None = None
    recorded: int | None = None


def note_actor(request: Request, principal: Principal) -> None:
    """The authenticated caller of this request (``require``)."""
    trail = request.scope.get("state", {}).get(_TRAIL)
    if isinstance(trail, _Trail):
        trail.principal = principal


def note_agency(request: Request, agency: str) -> None:
    """The agency this request acts on (``resolve_agency``)."""
    trail = request.scope.get("state", {}).get(_TRAIL)
    if isinstance(trail, _Trail):
        trail.agency = agency


def audited_action(scope: Scope) -> str | None:
    """``METHOD /route/{template}`` of a request that goes on the chain, else None."""
    template = getattr(scope.get("route"), "path", None)
    if scope["method"] not in WRITE_METHODS or not isinstance(template, str):
        return None
    action = f"{scope['method']} {template}"
    return None if any(p.match(action) for p in NOT_AUDITED) else action


def _entry(scope: Scope, trail: _Trail, outcome: int) -> AuditEntry | None:
    action = audited_action(scope)
    if action is None:
        return None
    principal = trail.principal
    return AuditEntry(
        actor=principal.key_id if principal else None,
        role=principal.role.value if principal else None,
        agency=trail.agency or (principal.agency if principal else _query_agency(scope)),
        action=action,
        target={str(k): str(v) for k, v in scope.get("path_params", {}).items()},
        outcome=outcome,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        at=datetime.now(UTC),
    )


def _query_agency(scope: Scope) -> str:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("agency", [])
    return values[0] if len(values) == 1 else "-"


def _route_status(scope: Scope) -> int:
    status = getattr(scope.get("route"), "status_code", None)
    return status if isinstance(status, int) else 200


class AuditMiddleware:
    """Pure ASGI; reads and GETs pass straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        trail = _Trail()
        scope.setdefault("state", {})[_TRAIL] = trail

        async def with_the_change(session: AsyncSession) -> None:
            entry = _entry(scope, trail, _route_status(scope))
            if entry is not None:
                await service.append(session, entry)
                trail.recorded = entry.outcome

        before_commit(scope, with_the_change)

        async def send_audited(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._after_answer(scope, trail, int(message["status"]))
            await send(message)

        await self.app(scope, receive, send_audited)

    async def _after_answer(self, scope: Scope, trail: _Trail, status: int) -> None:
        if trail.recorded == status or trail.principal is None:
            return  # written with the change, or nobody to hold to account for a refusal
        entry = _entry(scope, trail, status)
        if entry is None:
            return
        runtime: Runtime = scope["app"].state.runtime
        try:
            async with runtime.db.session() as session:
                await service.append(session, entry)
        except Exception as exc:  # the answer stands: what the service did is done
            log.error(
                "audit.append_failed",
                action=entry.action,
                outcome=status,
                error=f"{type(exc).__name__}: {exc}",
            )
