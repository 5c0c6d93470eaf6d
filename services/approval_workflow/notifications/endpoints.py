"""The agency's notification configuration (internal, behind the gateway, which lets admins
write and every role read): ``GET``, ``PUT`` and ``DELETE /v1/approvals/notifications``."""

from __future__ import annotations

from fastapi import APIRouter

from approval_workflow.approvals.deps import Caller
from approval_workflow.errors import CALLER, InvalidNotificationUrl, NotificationUrlForbidden
from approval_workflow.notifications import service
from approval_workflow.notifications.schemas import NotificationsIn, NotificationsOut
from approval_workflow.notifications.service import TargetAsked
from approval_workflow.state import State
from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession
from cortex_kit.web import CallerAgency

# Included before the approvals' router: /v1/approvals/{approval_id} would match it too.
router = APIRouter(prefix="/v1/approvals/notifications", tags=["notifications"])


@router.get("", responses=problem_responses(AgencyRequired))
async def read_notifications(session: DbSession, agency: CallerAgency) -> NotificationsOut:
    """The targets (URL origins only), whether a secret is set (never the secret), and how
    deliveries went: counts and the latest failures."""
    return NotificationsOut.of(agency, await service.overview(session, agency))


@router.put(
    "",
    responses=problem_responses(*CALLER, InvalidNotificationUrl, NotificationUrlForbidden),
)
async def set_notifications(
    body: NotificationsIn,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    caller: Caller,
) -> NotificationsOut:
    """Replace the targets; set, keep or generate the signing secret (a generated one is in
    this answer only)."""
    configured = await service.configure(
        session,
        state.notifications.box,
        agency,
        [TargetAsked(t.url, tuple(t.events)) for t in body.targets],
        secret=body.secret.get_secret_value() if body.secret is not None else None,
        rotate=body.rotate_secret,
        who=caller.id,
        now=state.clock(),
        allow_private=state.notifications.allow_private,
    )
    return NotificationsOut.of(agency, await service.overview(session, agency), configured)


@router.delete("", status_code=204, responses=problem_responses(*CALLER))
async def delete_notifications(session: DbSession, agency: CallerAgency, caller: Caller) -> None:
    """No more notifications for the agency; queued ones are dropped (idempotent)."""
    del caller  # who may: the gateway's check; the principal must be known all the same
    await service.remove(session, agency)
