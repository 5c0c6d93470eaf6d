"""The decision log: every decision (masked) recorded with its events, group-committed.

Decisions are written in batches, one transaction per batch: the rows and their outbox events
together. By default (``decision_log_durable``) ``authorize`` waits for its batch's commit
before it answers — a batch is flushed as soon as the previous one is done, so concurrent
requests share one transaction — and a failed write answers 503, never an unrecorded
decision. With ``decision_log_durable=false`` the log is write-behind: decisions are queued in
memory and a process killed mid-batch loses the decisions of the last ``decision_log_delay_s``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy import (
    DateTime,
    Float,
    Insert,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeEngine

from cortex_contracts import (
    Decision,
    DecisionRecorded,
    PolicyLayer,
    PolicyViolation,
    Reason,
    pack,
    subject_for,
)
from cortex_kit.batching import BatchWriteFailed, BatchWriter
from cortex_kit.db import Database
from cortex_kit.errors import Unavailable
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from policy_engine.domain.decisions.decision import DecisionResult
from policy_engine.models import decisions

SOURCE = "policy-engine"
_DECISION = {
    "allow": Decision.DECISION_ALLOW,
    "deny": Decision.DECISION_DENY,
    "require_approval": Decision.DECISION_REQUIRE_APPROVAL,
}
_LAYER = {
    "org": PolicyLayer.POLICY_LAYER_ORG,
    "agency": PolicyLayer.POLICY_LAYER_AGENCY,
    "team": PolicyLayer.POLICY_LAYER_TEAM,
}


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    decision_id: str
    agency: str
    agent_id: str
    action_type: str
    resource: str
    deployment_id: str | None
    result: DecisionResult
    policy_version: str
    evaluated_us: float
    created_at: datetime
    input_json: str
    """Everything needed to evaluate again (simulation), with PII masked, as JSON text
    (``stored_json``): serialised when submitted, so a queued decision holds one string for
    the garbage collector instead of a tree of dicts it would scan until the flush."""
    trace_context: dict[str, str] = field(default_factory=dict)


def _int_version(policy_version: str) -> int:
    try:
        return int(policy_version.rsplit(":", 1)[-1])
    except ValueError:
        return 0


def _events(d: LoggedDecision) -> list[PendingEvent]:
    r = d.result
    reasons = [
        Reason(
            code=x.code,
            severity=x.severity,
            message=x.message,
            remediation=x.remediation,
            rule_id=x.rule_id or "",
            layer=_LAYER.get(x.layer or "", PolicyLayer.POLICY_LAYER_UNSPECIFIED),
            policy_version=x.version or 0,
            docs_url=x.docs_url,
            actual="" if x.actual is None else str(x.actual),
            limit="" if x.limit is None else str(x.limit),
        )
        for x in r.reasons
    ]
    payloads: list[Any] = [
        DecisionRecorded(
            decision_id=d.decision_id,
            agency=d.agency,
            agent_id=d.agent_id,
            action=d.action_type,
            resource=d.resource,
            decision=_DECISION[r.decision],
            risk_score=r.risk_score,
            reasons=reasons,
            policy_version=_int_version(d.policy_version),
            effective_version=d.policy_version,
            evaluated_us=int(d.evaluated_us),
        )
    ]
    payloads += [
        PolicyViolation(
            agency=d.agency,
            agent_id=d.agent_id,
            rule_id=x.rule_id or x.code,
            decision_id=d.decision_id,
            deployment_id=d.deployment_id or "",
            action=d.action_type,
            severity=x.severity,
            message=x.message,
            remediation=x.remediation,
            policy_version=x.version or 0,
            layer=_LAYER.get(x.layer or "", PolicyLayer.POLICY_LAYER_UNSPECIFIED),
        )
        for x in r.reasons
        if x.effect == "deny"
    ]
    # Budget alerts are not here: the reservation that crossed them staged their events.
    return [
        PendingEvent(
            subject_for(p, d.agency),
            pack(
                p,
                agency=d.agency,
                source=SOURCE,
                occurred_at=d.created_at,
                trace_context=d.trace_context,
            ),
        )
        for p in payloads
    ]


CHUNK = 16
"""Decisions prepared between two awaits of a flush. Building a decision's row and events costs
~20-40 µs of CPU on the event loop; a whole batch at once (100 at 1,000 req/s) held every
request behind it for several milliseconds. Each chunk's two statements are awaited, so
requests are served between chunks; the batch is still one transaction."""


# The decision log's columns as the flush sends them: one array parameter each; the JSON
# columns arrive as text already serialised, cast to jsonb by PostgreSQL.
_COLUMNS: dict[str, TypeEngine[Any]] = {
    "decision_id": Text(),
    "agency": Text(),
    "agent_id": Text(),
    "action_type": Text(),
    "decision": Text(),
    "risk_score": Float(),
    "reasons": Text(),
    "input": Text(),
    "policy_version": Text(),
    "evaluated_us": Float(),
    "created_at": DateTime(timezone=True),
}
_JSON_COLUMNS = frozenset({"reasons", "input"})


def _insert_statement() -> Insert:
    """``INSERT … SELECT … FROM unnest($1, …, $11) ON CONFLICT DO NOTHING``: one statement per
    chunk whatever its size (compiled and prepared once), not a parameter set per row."""
    names = list(_COLUMNS)
    rows = (
        func.unnest(*(bindparam(n, type_=ARRAY(t)) for n, t in _COLUMNS.items()))
        .table_valued(*names)
        .render_derived()
    )
    values = [cast(rows.c[n], JSONB) if n in _JSON_COLUMNS else rows.c[n] for n in names]
    return pg_insert(decisions).from_select(names, select(*values)).on_conflict_do_nothing()


_INSERT = _insert_statement()


# A ``\u0000`` escape in JSON text (an odd number of backslashes before ``u0000``).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL: one agent sending it would fail every retry of the
    whole batch, and the log would stop. It is stored as U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def stored_json(value: Any) -> str:
    """JSON text for a jsonb column. Non-finite numbers become null and NUL characters U+FFFD:
    jsonb refuses both, and one refused row would fail its batch on every retry."""
    text = pydantic_core.to_json(value, inf_nan_mode="null").decode()
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def _parameters(chunk: Sequence[LoggedDecision]) -> dict[str, list[Any]]:
    return {
        "decision_id": [d.decision_id for d in chunk],
        "agency": [d.agency for d in chunk],
        "agent_id": [_text(d.agent_id) for d in chunk],
        "action_type": [_text(d.action_type) for d in chunk],
        "decision": [d.result.decision for d in chunk],
        "risk_score": [float(d.result.risk_score) for d in chunk],
        "reasons": [stored_json([x.to_dict() for x in d.result.reasons]) for d in chunk],
        "input": [d.input_json for d in chunk],
        "policy_version": [d.policy_version for d in chunk],
        "evaluated_us": [d.evaluated_us for d in chunk],
        "created_at": [d.created_at for d in chunk],
    }


class DecisionLog:
    def __init__(self, db: Database, outbox: Table) -> None:
        self.db = db
        self.outbox = outbox

    async def write(self, batch: Sequence[LoggedDecision]) -> None:
        """The batch's rows and their events, in one transaction, in chunks of ``CHUNK``."""
        async with self.db.session() as session:
            for start in range(0, len(batch), CHUNK):
                chunk = batch[start : start + CHUNK]
                await session.execute(_INSERT, _parameters(chunk))
                await add_to_outbox(session, self.outbox, [e for d in chunk for e in _events(d)])

    async def write_now(self, decision: LoggedDecision, extra: Sequence[PendingEvent]) -> None:
        """One decision with its events and ``extra`` (its approval request), in a transaction
        of its own, committed when this returns (a require_approval answer that creates an
        approval: neither may be lost once it is answered, even with the log write-behind)."""
        try:
            async with self.db.session() as session:
                await session.execute(_INSERT, _parameters([decision]))
                await add_to_outbox(session, self.outbox, [*_events(decision), *extra])
        except (SQLAlchemyError, OSError) as exc:
            raise _unavailable() from exc


def _unavailable() -> DecisionLogUnavailable:
    return DecisionLogUnavailable(
        "The decision could not be recorded in the decision log, so it is not given "
        "(an unrecorded decision is never answered).",
        remediation="Retry after the Retry-After delay; if it persists, check the policy "
        "engine's database (`GET /readyz`) and its log for `batch.flush_failed`.",
    )


class DecisionLogUnavailable(Unavailable):
    code = "decision_log_unavailable"
    title = "Decision log unavailable"


async def record(
    writer: BatchWriter[LoggedDecision], durable: bool, decision: LoggedDecision
) -> None:
    """Log ``decision``: committed before this returns when ``durable``, else queued."""
    if not durable:
        await writer.submit(decision)
        return
    try:
        await writer.write(decision)
    except BatchWriteFailed as exc:
        raise _unavailable() from exc


__all__ = ["DecisionLog", "DecisionLogUnavailable", "LoggedDecision", "record", "stored_json"]
