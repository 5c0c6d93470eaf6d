"""Approvals over HTTP (internal, behind the gateway): create, list, read (and long-poll),
decide, decide in bulk. The caller's agency, principal, roles and team come from the headers
the gateway signs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from approval_workflow.approvals import service
from approval_workflow.approvals.deps import After, Caller, encode_cursor
from approval_workflow.approvals.repository import Details, Filters
from approval_workflow.approvals.schemas import (
    ApprovalCreate,
    ApprovalList,
    ApprovalOut,
    BulkDecisionsIn,
    BulkDecisionsOut,
    BulkResult,
    DecisionIn,
    DecisionOut,
    ListStatus,
    Problem,
    TrailEntry,
)
from approval_workflow.approvals.service import DecisionMade, NewApproval
from approval_workflow.domain.model import Principal, Subject, SubjectKind
from approval_workflow.errors import (
    CALLER,
    DECISION,
    ApprovalIdTaken,
    ApprovalNotFound,
    InvalidApproval,
    InvalidCursor,
)
from approval_workflow.state import ApprovalState, State
from cortex_kit.errors import AgencyRequired, CortexError, problem_responses
from cortex_kit.runtime import DbSession, RuntimeDep
from cortex_kit.web import CallerAgency

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
_KEY_NAMESPACE = uuid.UUID("6f1d7c1e-4a55-4f0e-9b1a-0c7f3e2d9a10")


def _new_approval(
    body: ApprovalCreate,
    agency: str,
    caller: Principal,
    state: ApprovalState,
    idempotency_key: str | None,
) -> NewApproval:
    now = state.clock()
    expiry = timedelta(seconds=body.expires_in_s) if body.expires_in_s else state.default_expiry
    if expiry > state.max_expiry:
        raise InvalidApproval(
            f"The expiry is longer than the longest allowed ({state.max_expiry}).",
            remediation="Ask for a shorter expires_in_s.",
        )
    if body.id is not None:
        approval_id = body.id
    elif idempotency_key:
        approval_id = str(uuid.uuid5(_KEY_NAMESPACE, f"{agency}\x1f{idempotency_key}"))
    else:
        approval_id = str(uuid.uuid4())
    escalate = body.escalate_after_s
    return NewApproval(
        id=approval_id,
        agency=agency,
        subject=Subject(body.subject.kind, body.subject.id, body.subject.input_hash),
        requested_by=caller.id,
        requester_team=caller.team,
        required_roles=tuple(dict.fromkeys(body.required_roles)),
        quorum=body.quorum,
        separation=body.separation or "requester",
        requested_at=now,
        expires_at=now + expiry,
        escalate_after=timedelta(seconds=escalate) if escalate else None,
        escalate_to=body.escalate_to,
        details=Details(
            body.summary, body.reason, tuple(body.rule_ids), body.policy_version, body.risk_score
        ),
        origin="api",
    )


IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=200, pattern=r"^[\x21-\x7e]+$")
]


@router.post(
    "",
    status_code=201,
    responses=problem_responses(*CALLER, InvalidApproval, ApprovalIdTaken),
)
async def create_approval(
    body: ApprovalCreate,
    response: Response,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> ApprovalOut:
    """A new request (201); a retry with the same id or Idempotency-Key gets the request as
    stored (200). A newer request for the same subject supersedes the pending one."""
    new = _new_approval(body, agency, caller, state, idempotency_key)
    created = await service.create(
        session, state.staging, new, service_separation=state.separation, now=state.clock()
    )
    if not created.created:
        response.status_code = 200
    return ApprovalOut.of(created.stored)


@router.get("", responses=problem_responses(*CALLER, InvalidCursor))
async def list_approvals(
    session: DbSession,
    state: State,
    agency: CallerAgency,
    caller: Caller,
    status: ListStatus | None = None,
    subject_kind: SubjectKind | None = None,
    subject_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    mine: Literal["decidable"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: After = None,
) -> ApprovalList:
    """Newest first; ``mine=decidable``: the pending requests the caller could approve now."""
    page = await service.list_approvals(
        session,
        agency,
        Filters(status, subject_kind, subject_id),
        after=after,
        limit=limit,
        decidable_by=caller if mine == "decidable" else None,
        now=state.clock(),
    )
    return ApprovalList(
        items=[ApprovalOut.of(s) for s in page.items], next_cursor=encode_cursor(page.last)
    )


@router.get("/{approval_id}", responses=problem_responses(AgencyRequired, ApprovalNotFound))
async def get_approval(
    approval_id: str,
    rt: RuntimeDep,
    state: State,
    agency: CallerAgency,
    wait: Annotated[float, Query(ge=0, le=300)] = 0,
) -> ApprovalOut:
    """The request with its full trail. ``wait=N``: long-poll, answered as soon as the request
    is terminal or after N seconds (at most the service's limit) with its state then. No
    database connection is held while waiting."""
    stored = await service.read_waiting(
        rt.db, state.waiters, agency, approval_id, min(wait, state.wait_max_s)
    )
    return ApprovalOut.of(stored)


def _decision_out(made: DecisionMade) -> DecisionOut:
    return DecisionOut(
        approval=ApprovalOut.of(made.stored),
        decision=TrailEntry.of(made.vote),
        repeated=made.repeated,
    )


@router.post(
    "/decisions",
    responses=problem_responses(*CALLER),
)
async def decide_many(
    body: BulkDecisionsIn,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    caller: Caller,
) -> BulkDecisionsOut:
    """Each item decided on its own (its own savepoint) and answered with the status and the
    problem it would get alone; the items that succeed commit together. Requests are locked
    in id order, so two bulk calls never deadlock."""
    outcomes = await service.decide_each(
        session,
        state.staging,
        agency,
        caller,
        [(item.approval_id, item.decision, item.comment) for item in body.items],
        state.clock,
    )
    return BulkDecisionsOut(items=[_bulk_result(outcome) for outcome in outcomes])


def _bulk_result(outcome: service.ItemOutcome) -> BulkResult:
    if isinstance(outcome.result, CortexError):
        problem = Problem.model_validate(outcome.result.problem(f"/v1/approvals/{outcome.id}"))
        return BulkResult(approval_id=outcome.id, status=outcome.result.status, problem=problem)
    return BulkResult(approval_id=outcome.id, status=200, result=_decision_out(outcome.result))


@router.post("/{approval_id}/decisions", responses=problem_responses(*CALLER, *DECISION))
async def decide(
    approval_id: str,
    body: DecisionIn,
    session: DbSession,
    state: State,
    agency: CallerAgency,
    caller: Caller,
) -> DecisionOut:
    """approve or reject, once per approver: the same decision again answers the same."""
    made = await service.decide(
        session,
        state.staging,
        agency,
        approval_id,
        caller,
        body.decision,
        body.comment,
        state.clock(),
    )
    return _decision_out(made)
