"""The decision log: every decision (masked) recorded off the hot path, with its events.

Decisions are queued in memory and written in batches (one transaction per batch: the rows
and their outbox events together). A process killed mid-batch loses at most the decisions of
the last ``max_delay_s`` (0.1 s by default) — the price of keeping the database off the
authorize hot path, as the issue asks; budgets are reserved synchronously and are never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cortex_contracts import (
    BudgetThresholdCrossed,
    Decision,
    DecisionRecorded,
    PolicyLayer,
    PolicyViolation,
    Reason,
    pack,
    subject_for,
)
from cortex_kit.db import Database
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from policy_engine.domain.decision import DecisionResult
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


@dataclass(frozen=True)
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
    input: dict[str, Any]
    """Everything needed to evaluate again (simulation), with PII masked."""
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
    payloads += [
        BudgetThresholdCrossed(
            agency=d.agency,
            agent_id="" if a.scope == "agency" else d.agent_id,
            scope=a.scope,
            period=a.period,
            unit=a.unit,
            threshold=a.threshold,
            used=float(a.used_after),
            limit=float(a.limit),
            decision_id=d.decision_id,
        )
        for a in r.budget_alerts
    ]
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


class DecisionLog:
    def __init__(self, db: Database, outbox: Table) -> None:
        self.db = db
        self.outbox = outbox

    async def write(self, batch: Sequence[LoggedDecision]) -> None:
        rows = [
            {
                "decision_id": d.decision_id,
                "agency": d.agency,
                "agent_id": d.agent_id,
                "action_type": d.action_type,
                "decision": d.result.decision,
                "risk_score": d.result.risk_score,
                "reasons": [x.to_dict() for x in d.result.reasons],
                "input": d.input,
                "policy_version": d.policy_version,
                "evaluated_us": d.evaluated_us,
                "created_at": d.created_at,
            }
            for d in batch
        ]
        async with self.db.session() as session:
            await session.execute(pg_insert(decisions).on_conflict_do_nothing(), rows)
            await add_to_outbox(session, self.outbox, [e for d in batch for e in _events(d)])


__all__ = ["DecisionLog", "LoggedDecision"]
