"""The audit log: list it (admins and viewers of the agency) and verify the chain (org-wide
admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from cortex_kit.runtime import DbSession
from gateway.audit import service
from gateway.audit.errors import InvalidAuditCursor
from gateway.audit.repository import AuditFilters
from gateway.audit.schemas import AuditPage, AuditRow, ChainVerdict
from gateway.auth.deps import require, require_org_wide, resolve_agency
from gateway.domain.keys import ALL_AGENCIES, Principal, Role
from gateway.errors import AGENCY_SCOPED, OrgAdminRequired, gateway_responses

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Outcome = Annotated[
    str | None,
    Query(
        pattern=r"^[1-5]([0-9]{2}|xx)$",
        description="An HTTP status (`403`) or a class of them (`4xx`).",
    ),
]


def _outcomes(outcome: str | None) -> tuple[int | None, int | None]:
    if outcome is None:
        return None, None
    if outcome.endswith("xx"):
        low = int(outcome[0]) * 100
        return low, low + 99
    return int(outcome), int(outcome)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidAuditCursor(
            f"{cursor[:40]!r} is not a cursor of this list.",
            remediation="Pass the `next_cursor` of the previous page as it was, or omit it.",
        )
    return int(cursor)


def _scope(caller: Principal, request: Request, agency: str | None) -> str | None:
    """The agency whose rows the caller sees: its own; any (or ``*``) for org-wide keys."""
    if caller.all_agencies and agency in (None, ALL_AGENCIES):
        return agency
    return resolve_agency(caller, request, agency)


@router.get("", responses=gateway_responses(InvalidAuditCursor, *AGENCY_SCOPED))
async def list_audit(
    request: Request,
    session: DbSession,
    caller: Viewer,
    agency: Annotated[str | None, Query(description="Org-wide keys: one agency.")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="An API key id.")] = None,
    action: Annotated[
        str | None, Query(max_length=300, description="`POST /v1/keys` (a route template).")
    ] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    outcome: Outcome = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """State-changing requests of the agency, newest first (`from` inclusive, `to` exclusive)."""
    low, high = _outcomes(outcome)
    filters = AuditFilters(
        agency=_scope(caller, request, agency),
        actor=actor,
        action=action,
        since=since,
        until=until,
        outcome_from=low,
        outcome_to=high,
    )
    rows, next_seq = await service.records(session, filters, _cursor(cursor), limit)
    return AuditPage(
        items=[AuditRow.of(r) for r in rows],
        next_cursor=None if next_seq is None else str(next_seq),
    )


@router.get("/verify", responses=gateway_responses(OrgAdminRequired))
async def verify_audit(request: Request, session: DbSession, caller: Admin) -> ChainVerdict:
    """Walk the whole chain and name the first broken link (org-wide admins)."""
    require_org_wide(caller, request)
    verdict, head = await service.verify(session)
    return ChainVerdict.of(verdict, head.seq, head.hash)
