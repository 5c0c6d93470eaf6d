"""Use case: authorize one agent action (the hot path), settle usage, simulate a candidate."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import LRUCache
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_contracts import new_event_id
from cortex_kit.batching import BatchWriter
from cortex_kit.db import Database
from cortex_kit.observability import inject_context
from policy_engine.budgets import service as budgets
from policy_engine.budgets.service import Settlement
from policy_engine.domain.decisions.checks import fail_closed, no_policy, with_budget_alerts
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.decision import (
    ApprovalRequirement,
    Decision,
    DecisionResult,
)
from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.decisions.inputs import AuthorizeInput, BudgetUsage, EvalContext
from policy_engine.domain.pii.ner import load as load_name_model
from policy_engine.errors import DecisionNotFound
from policy_engine.evaluation import repository
from policy_engine.evaluation.approvals import (
    DEFAULT_EXPIRY_S,
    ApprovalTicket,
    ApprovalUnverifiable,
    ApprovalUses,
    Bound,
    UseAnswer,
    action_input_hash,
    action_subject_id,
    approved,
    new_ticket,
    refused,
    requested_event,
    unverifiable,
)
from policy_engine.evaluation.cache import PolicyCache
from policy_engine.evaluation.decision_log import (
    DecisionLog,
    LoggedDecision,
    record,
    stored_json,
)
from policy_engine.evaluation.metrics import DECISIONS, EVALUATION_SECONDS
from policy_engine.evaluation.repository import DecisionRow
from policy_engine.evaluation.scanning import (
    RequestScan,
    answered_payload,
    names_asked,
    scan_request,
    stored_fields,
    stored_payload,
    stored_request,
    stored_result,
)
from policy_engine.evaluation.schemas import AuthorizeRequest
from policy_engine.models import messaging

PII_DEADLINE_S = 0.05
NAMES_DEADLINE_S = 0.5
"""Scan budget when the policy asks for names: the model reads a kilobyte in 5-50 ms (a busy
machine), in a worker thread; past the budget the scan is oversize (``pii.on_oversize``)."""
MAX_REMEMBERED_VIOLATIONS = 1000
MAX_REMEMBERED_AGENTS = 100_000
NO_POLICY_MAX_BYTES = 1_048_576
"""Scan cap of a request no policy decides for (the built-in ``pii.max_payload_bytes``)."""


class RecentViolations:
    """Denials per agent over the last day, in this replica (a risk factor)."""

    def __init__(self, window: timedelta = timedelta(days=1)) -> None:
        self.window = window
        # The agents seen last, each with its last denials (beyond MAX_REMEMBERED_VIOLATIONS
        # a day the risk factor is saturated anyway).
        self._seen: LRUCache[tuple[str, str], deque[datetime]] = LRUCache(MAX_REMEMBERED_AGENTS)

    def count(self, agency: str, agent_id: str, now: datetime) -> int:
        seen = self._seen.get((agency, agent_id))
        if not seen:
            return 0
        while seen and now - seen[0] > self.window:
            seen.popleft()
        return len(seen)

    def record(self, agency: str, agent_id: str, now: datetime) -> None:
        seen = self._seen.get((agency, agent_id))
        if seen is None:
            seen = self._seen[(agency, agent_id)] = deque(maxlen=MAX_REMEMBERED_VIOLATIONS)
        seen.append(now)


@dataclass
class Authorizer:
    db: Database
    cache: PolicyCache
    log: BatchWriter[LoggedDecision]
    violations: RecentViolations
    durable_log: bool = True
    """The answer waits for the decision's commit in the log (see decision_log)."""
    approvals: ApprovalUses | None = None
    """The approval workflow, to use a granted approval (None: approvals are unverifiable)."""
    outbox: Table = messaging.outbox


def _input(agency: str, req: AuthorizeRequest) -> AuthorizeInput:
    a = req.action
    return AuthorizeInput(
        agency=agency,
        agent_id=req.agent_id,
        action_type=a.type,
        resource=a.resource,
        team=req.team,
        labels=a.labels,
        model=a.model,
        autonomy_level=a.autonomy_level,
        data_class=a.data_class,
        destination=a.destination,
        estimated_cost_usd=a.estimated_cost_usd,
        estimated_tokens=a.estimated_tokens,
        deployment_id=req.deployment_id,
        extra=req.context,
    )


async def _scan(compiled: CompiledPolicy | None, req: AuthorizeRequest) -> RequestScan:
    """Every field that can carry data (see scanning.py); without a policy the payload is not
    scanned (the request is denied, and its payload not stored)."""
    if compiled is None:
        return scan_request(
            req, max_bytes=NO_POLICY_MAX_BYTES, deadline_s=PII_DEADLINE_S, with_payload=False
        )
    names = names_asked(compiled)
    if not names:
        return scan_request(req, max_bytes=compiled.max_payload_bytes, deadline_s=PII_DEADLINE_S)
    # Names and places: the model loads once (about a second) and reads milliseconds per
    # kilobyte, both in a worker thread so the event loop keeps serving.
    await asyncio.to_thread(load_name_model)
    return await asyncio.to_thread(
        scan_request,
        req,
        max_bytes=compiled.max_payload_bytes,
        deadline_s=NAMES_DEADLINE_S,
        names=names,
    )


def _masked(req: AuthorizeRequest, scan: RequestScan, result: DecisionResult) -> Any:
    return answered_payload(req.payload, scan.payload, result)


def _stored_payload(req: AuthorizeRequest, scan: RequestScan) -> Any:
    """Raw PII is never stored: every detected entity is masked in the decision log."""
    return stored_payload(req.payload, scan.payload)


def _no_policy_result(agency: str) -> DecisionResult:
    return no_policy(agency)


def _context(
    scan: RequestScan | None, recent: int, now: datetime, usage: BudgetUsage
) -> EvalContext:
    if scan is None or (not scan.entities and not scan.oversize):
        return EvalContext(now=now, budget=usage, recent_violations=recent)
    return EvalContext(
        now=now,
        pii_entities_found=scan.entities,
        payload_oversize=scan.oversize,
        pii_fields=scan.fields,
        oversize_fields=scan.oversize_fields,
        budget=usage,
        recent_violations=recent,
    )


async def _decide(
    db: Database,
    compiled: CompiledPolicy,
    inp: AuthorizeInput,
    scan: RequestScan | None,
    recent: int,
    decision_id: str,
    now: datetime,
) -> tuple[DecisionResult, EvalContext]:
    if not compiled.budgets:
        # Nothing to read or reserve: no unit of work at all. Opening and committing an empty
        # session costs more CPU than the decision itself, on every request.
        ctx = _context(scan, recent, now, BudgetUsage())
        return evaluate(compiled, inp, ctx), ctx
    async with db.session() as session:  # the unit of work of the budget reads and reservation
        return await _decide_with_budgets(session, compiled, inp, scan, recent, decision_id, now)


async def _decide_with_budgets(
    session: AsyncSession,
    compiled: CompiledPolicy,
    inp: AuthorizeInput,
    scan: RequestScan | None,
    recent: int,
    decision_id: str,
    now: datetime,
) -> tuple[DecisionResult, EvalContext]:
    """Evaluate and, when it may go ahead at a cost, reserve budget atomically (3 tries)."""
    for _ in range(3):
        usage = await budgets.usage(session, inp.agency, inp.agent_id, now)
        ctx = _context(scan, recent, now, usage)
        result = evaluate(compiled, inp, ctx)
        costs = inp.estimated_cost_usd > 0 or inp.estimated_tokens > 0
        if result.decision == "deny" or not costs:
            return result, ctx
        reservation = await budgets.reserve(
            session,
            agency=inp.agency,
            agent_id=inp.agent_id,
            decision_id=decision_id,
            limits=compiled.budgets,
            thresholds=compiled.alert_thresholds,
            usage=usage,
            usd=inp.estimated_cost_usd,
            tokens=inp.estimated_tokens,
            now=now,
        )
        if reservation is not None:
            # The reservation's own totals, not the read before it (concurrent requests may
            # have moved them): the snapshot logged, and the alerts this request crossed.
            ctx = dataclasses.replace(ctx, budget=reservation.before)
            return with_budget_alerts(result, reservation.alerts, compiled), ctx
        # Another request took the budget in between: evaluate again on fresh usage.
    return fail_closed("the budget changed under concurrent requests; retry"), ctx


@dataclass(frozen=True, slots=True)
class Authorization:
    """What ``authorize`` answers; the endpoint renders it as ``AuthorizeResponse``."""

    decision_id: str
    result: DecisionResult
    masked_payload: Any
    policy_version: str
    evaluated_us: float
    approval: ApprovalTicket | None = None
    """The approval a require_approval (or an allow by approval) names."""


DEFAULT_REQUIREMENT = ApprovalRequirement(("approver",), 1, DEFAULT_EXPIRY_S, ())
"""Who approves a require_approval that no rule's approval block describes."""


async def _use(
    auth: Authorizer, agency: str, approval_id: str, req: AuthorizeRequest, h: str, decision_id: str
) -> UseAnswer:
    if auth.approvals is None:
        return unverifiable()
    try:
        return await auth.approvals.use(
            agency, approval_id, input_hash=h, agent_id=req.agent_id, decision_id=decision_id
        )
    except ApprovalUnverifiable:
        return unverifiable()  # fails closed: still require_approval


async def bind_approval(
    auth: Authorizer,
    agency: str,
    req: AuthorizeRequest,
    result: DecisionResult,
    decision_id: str,
    now: datetime,
) -> Bound:
    """A require_approval result: with ``approval_id``, the approval used (allow) or refused
    (require_approval, with why, and a new request when one is needed); without, a new
    request."""
    requirement = result.approval or DEFAULT_REQUIREMENT
    result = result._replace(approval=requirement)
    h = action_input_hash(req)
    if req.approval_id is None:
        return Bound(result, new_ticket(req, h, requirement, now), True)
    answer = await _use(auth, agency, req.approval_id, req, h, decision_id)
    if not answer.granted:
        return refused(result, requirement, req, req.approval_id, answer, h, now)
    ticket = ApprovalTicket(
        id=req.approval_id,
        status="granted",
        input_hash=h,
        subject_id=action_subject_id(req.agent_id, req.action.type, req.action.resource),
        expires_at=None,
        approvers=answer.approvers,
    )
    return Bound(approved(result, req.approval_id, answer), ticket, False)


async def authorize(
    auth: Authorizer, agency: str, req: AuthorizeRequest, principal: str | None = None
) -> Authorization:
    """Decide and log the decision (committed before this returns, unless the log is
    write-behind). Budgets, when the policy has any, are read and reserved in a transaction of
    their own, committed before the decision is logged. A require_approval decision that asks
    for a new approval commits with its ``approval.requested`` event, in a transaction of its
    own, before this returns (write-behind or not)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    decision_id = new_event_id()
    inp = _input(agency, req)
    entry = await auth.cache.get(agency, req.team)
    recent = auth.violations.count(agency, req.agent_id, now)
    scan = await _scan(entry.compiled, req)
    ctx = EvalContext(now=now, recent_violations=recent)
    if entry.compiled is None:
        result = _no_policy_result(agency)
    else:
        result, ctx = await _decide(auth.db, entry.compiled, inp, scan, recent, decision_id, now)
    bound: Bound | None = None
    if result.decision == "require_approval":
        bound = await bind_approval(auth, agency, req, result, decision_id, now)
        result = bound.result
    evaluated_us = (time.perf_counter() - started) * 1e6
    if result.decision == "deny":
        auth.violations.record(agency, req.agent_id, now)
    DECISIONS.labels(result.decision).inc()
    EVALUATION_SECONDS.observe(evaluated_us / 1e6)
    kept = stored_fields(req, scan)  # what the log and its events keep: masked
    logged = LoggedDecision(
        decision_id=decision_id,
        agency=agency,
        agent_id=kept.agent_id,
        action_type=kept.action_type,
        resource=kept.resource,
        deployment_id=kept.deployment_id,
        result=stored_result(req, scan, result),
        policy_version=entry.version,
        evaluated_us=evaluated_us,
        created_at=now,
        input_json=stored_json(_record(stored_request(req, scan, _stored_payload(req, scan)), ctx)),
        trace_context=dict(inject_context({})),
    )
    if bound is not None and bound.new_request and result.approval is not None:
        event = requested_event(
            agency=agency,
            ticket=bound.ticket,
            requirement=result.approval,
            agent_id=req.agent_id,
            principal=principal,
            team=req.team,
            action_type=kept.action_type,
            resource=kept.resource,
            reasons=logged.result.reasons,
            risk_score=float(result.risk_score),
            policy_version=entry.version,
            now=now,
            trace_context=logged.trace_context,
        )
        await DecisionLog(auth.db, auth.outbox).write_now(logged, [event])
    else:
        await record(auth.log, auth.durable_log, logged)
    return Authorization(
        decision_id=decision_id,
        result=result,
        masked_payload=_masked(req, scan, result),
        policy_version=entry.version,
        evaluated_us=evaluated_us,
        approval=bound.ticket if bound else None,
    )


def _record(request: dict[str, Any], ctx: EvalContext) -> dict[str, Any]:
    return {
        "request": request,
        "context": {
            "now": ctx.now.isoformat(),
            "pii_entities_found": dict(ctx.pii_entities_found),
            "payload_oversize": ctx.payload_oversize,
            "budget": {k: getattr(ctx.budget, k) for k in ctx.budget.__slots__},
            "recent_violations": ctx.recent_violations,
        },
    }


def replay_input(agency: str, stored: dict[str, Any]) -> tuple[AuthorizeInput, EvalContext]:
    """Rebuild what a recorded decision was evaluated on (for simulation)."""
    req = AuthorizeRequest.model_validate({**stored["request"], "payload": None})
    c = stored["context"]
    ctx = EvalContext(
        now=datetime.fromisoformat(c["now"]),
        pii_entities_found=c["pii_entities_found"],
        payload_oversize=c["payload_oversize"],
        budget=BudgetUsage(**c["budget"]),
        recent_violations=c["recent_violations"],
    )
    return _input(agency, req), ctx


async def settle_usage(
    auth: Authorizer,
    session: AsyncSession,
    *,
    agency: str,
    team: str | None,
    decision_id: str,
    usd: float,
    tokens: int,
) -> Settlement:
    """Settle the actual cost and tokens of an allowed action against its reservation, under
    the budgets and alert thresholds of the policy in force for ``(agency, team)``."""
    compiled = (await auth.cache.get(agency, team)).compiled
    return await budgets.settle(
        session,
        agency=agency,
        decision_id=decision_id,
        usd=usd,
        tokens=tokens,
        limits=compiled.budgets if compiled else (),
        thresholds=compiled.alert_thresholds if compiled else (),
        now=datetime.now(UTC),
    )


async def recent_decisions(
    session: AsyncSession,
    agency: str,
    *,
    limit: int,
    agent_id: str | None = None,
    decision: Decision | None = None,
) -> list[DecisionRow]:
    """The agency's latest logged decisions, newest first."""
    return await repository.recent(session, agency, limit, agent_id, decision)


async def logged_decision(session: AsyncSession, agency: str, decision_id: str) -> DecisionRow:
    """One logged decision of the agency; DecisionNotFound otherwise."""
    row = await repository.get(session, agency, decision_id)
    if row is None:
        raise DecisionNotFound(
            f"No decision {decision_id!r} in agency {agency!r}.",
            remediation="Decisions are recorded within a fraction of a second; check the id.",
        )
    return row
