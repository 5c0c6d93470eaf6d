"""Preflight's judgement (pure): the services' answers turned into findings and a verdict.

The verdict is the orchestrator's preview — what ``POST /v1/deployments`` would answer, from
the same assessment creation runs — so preflight and enforcement cannot disagree. Every other
answer only adds findings, except that a service which did not answer never lets the verdict
pass (fail closed): without the orchestrator (or the policy engine behind it) nothing can be
predicted, ``fail``; without the approval workflow or the metrics collector a check is missing,
``pass`` becomes ``needs_approval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cortex_contracts.codes import docs_url
from gateway.preflight.schemas import (
    ApprovalNeededOut,
    ConflictOut,
    EnforcementOut,
    Finding,
    PlanOut,
    PreflightOut,
    Severity,
    Source,
    SourceOut,
    Verdict,
)

ROLLOUT_ORCHESTRATOR_UNAVAILABLE = "rollout_orchestrator_unavailable"
POLICY_ENGINE_UNAVAILABLE = "policy_engine_unavailable"
APPROVAL_WORKFLOW_UNAVAILABLE = "approval_workflow_unavailable"
METRICS_COLLECTOR_UNAVAILABLE = "metrics_collector_unavailable"
DEPLOYMENT_NEEDS_APPROVAL = "deployment_needs_approval"
OVERRIDE_REQUESTED = "override_requested"
APPROVAL_PENDING_FOR_PLAN = "approval_pending_for_plan"
APPROVAL_GRANTED_FOR_PLAN = "approval_granted_for_plan"
RECENT_CHANGE_FAILURE_RATE = "recent_change_failure_rate"

UNAVAILABLE: dict[Source, str] = {
    "rollout_orchestrator": ROLLOUT_ORCHESTRATOR_UNAVAILABLE,
    "policy_engine": POLICY_ENGINE_UNAVAILABLE,
    "approval_workflow": APPROVAL_WORKFLOW_UNAVAILABLE,
    "metrics_collector": METRICS_COLLECTOR_UNAVAILABLE,
}
# The creation refusal that says the policy engine did not judge the plan, and the one whose
# reasons are already findings (the policy's deny reasons). Sets: they are read, not emitted.
_POLICY_DOWN = frozenset({"policy_unavailable"})
_BLOCKED = frozenset({"deployment_blocked"})
# Above this recent change failure rate the risk note is a warning (DORA's "elite" band).
CFR_WARNING = 0.15


@dataclass(frozen=True, slots=True)
class Reply:
    """One service's answer to preflight: ``ok`` with its HTTP status and JSON body,
    ``unavailable`` (no answer in time, or a failure: ``why``), or ``skipped``."""

    status: Literal["ok", "unavailable", "skipped"]
    elapsed_ms: float = 0.0
    http_status: int | None = None
    body: Any = None
    why: str = ""


def unavailable(source: Source, why: str) -> Finding:
    return Finding(
        code=UNAVAILABLE[source],
        severity="high",
        message=f"The {source.replace('_', ' ')} did not answer preflight ({why}): what it "
        "checks is unknown, so the verdict cannot pass.",
        remediation="Retry shortly; if it persists, check that service's `GET /readyz`.",
        docs_url=docs_url(UNAVAILABLE[source]),
        source=source,
    )


def _reason(reason: dict[str, Any]) -> Finding:
    code = str(reason.get("code", ""))
    return Finding(
        code=code,
        severity=reason.get("severity") or "medium",
        message=str(reason.get("message", "")),
        remediation=str(reason.get("remediation", "")),
        docs_url=str(reason.get("docs_url") or docs_url(code)),
        source="policy_engine",
        rule_id=reason.get("rule_id"),
        policy=reason.get("policy"),
        version=reason.get("version"),
        layer=reason.get("layer"),
        actual=reason.get("actual"),
        limit=reason.get("limit"),
    )


def _refusal(refusal: dict[str, Any]) -> Finding:
    code = str(refusal.get("code"))
    extra = refusal.get("extra") or {}
    counted = extra.get("missing") or extra.get("conflicts") or extra.get("errors")
    return Finding(
        code=code,
        severity="high",
        message=str(refusal.get("detail", "")),
        remediation=str(refusal.get("remediation", "")),
        docs_url=docs_url(code),
        source="rollout_orchestrator",
        actual=len(counted) if isinstance(counted, list) else None,
    )


def _waiting(preview: dict[str, Any]) -> list[Finding]:
    approval = preview.get("approval")
    if preview.get("status") != "pending_approval" or not approval:
        return []
    found = [
        Finding(
            code=OVERRIDE_REQUESTED,
            severity="medium",
            message=f"The plan asks to override `{limit}`: the run waits for an approval.",
            remediation="Get the approval (cortex approvals), or change the plan to fit the "
            "limit and drop the override.",
            docs_url=docs_url(OVERRIDE_REQUESTED),
            source="rollout_orchestrator",
            rule_id=f"deployments.{limit}",
        )
        for limit in preview.get("overrides", [])
    ]
    roles = ", ".join(approval["roles"]) or "any approver"
    found.append(
        Finding(
            code=DEPLOYMENT_NEEDS_APPROVAL,
            severity="medium",
            message=f"The deployment would start as pending_approval: {approval['quorum']} "
            f"approval(s) of {roles} within {approval['expires_in_s']} s.",
            remediation="Deploy, then have an approver decide the request "
            "(`cortex approvals decide`); the run starts once it is granted.",
            docs_url=docs_url(DEPLOYMENT_NEEDS_APPROVAL),
            source="rollout_orchestrator",
            rule_id=(approval["rule_ids"] or [None])[0],
        )
    )
    return found


def _from_preview(reply: Reply) -> tuple[list[Finding], Verdict, EnforcementOut]:
    if reply.status != "ok":
        unknown = EnforcementOut(status="unknown", http_status=None, code=None)
        return [unavailable("rollout_orchestrator", reply.why)], "fail", unknown
    body = reply.body
    if reply.http_status != 200:  # a body that is no plan: creation refuses it the same way
        code = str(body.get("code"))
        refused = EnforcementOut(status="refused", http_status=reply.http_status, code=code)
        return [_refusal({**body, "extra": body})], "fail", refused
    evaluation = body.get("evaluation") or {}
    found = [_reason(r) for r in evaluation.get("reasons", [])]
    refusal = body.get("refusal")
    if refusal is not None:
        if refusal["code"] in _POLICY_DOWN:
            found.append(unavailable("policy_engine", refusal["detail"]))
        elif refusal["code"] not in _BLOCKED:
            found.append(_refusal(refusal))
        enforced = EnforcementOut(
            status="refused", http_status=refusal["status"], code=refusal["code"]
        )
        return found, "fail", enforced
    found += _waiting(body)
    enforced = EnforcementOut(status=body["status"], http_status=202, code=None)
    return found, "needs_approval" if body["status"] == "pending_approval" else "pass", enforced


def _approvals(reply: Reply, plan_hash: str | None) -> list[Finding]:
    if reply.status == "skipped":
        return []
    if reply.status != "ok":
        return [unavailable("approval_workflow", reply.why)]
    found = []
    for item in reply.body.get("items", []):
        if plan_hash is None or item.get("subject", {}).get("input_hash") != plan_hash:
            continue
        subject = item["subject"]["id"]
        if item.get("status") == "pending":
            found.append(
                Finding(
                    code=APPROVAL_PENDING_FOR_PLAN,
                    severity="medium",
                    message=f"Approval {item['id']} for this same plan (deployment {subject}) "
                    "is pending.",
                    remediation="Have it decided instead of deploying again: that deployment "
                    "holds these agents until it ends.",
                    docs_url=docs_url(APPROVAL_PENDING_FOR_PLAN),
                    source="approval_workflow",
                )
            )
        elif item.get("status") == "granted":
            found.append(
                Finding(
                    code=APPROVAL_GRANTED_FOR_PLAN,
                    severity="info",
                    message=f"Approval {item['id']} was granted for this same plan "
                    f"(deployment {subject}); a new deployment asks again.",
                    remediation="Nothing to do; follow that deployment (GET /v1/deployments/"
                    f"{subject}) rather than deploying the plan twice.",
                    docs_url=docs_url(APPROVAL_GRANTED_FOR_PLAN),
                    source="approval_workflow",
                )
            )
    return found


def change_failure_rate(reply: Reply) -> float | None:
    if reply.status != "ok" or reply.http_status != 200:
        return None
    value = (reply.body.get("change_failure_rate") or {}).get("value")
    return float(value) if isinstance(value, int | float) else None


def _metrics(reply: Reply, service: str | None) -> list[Finding]:
    if reply.status == "skipped":
        return []
    if reply.status != "ok" or reply.http_status != 200:
        return [unavailable("metrics_collector", reply.why or f"HTTP {reply.http_status}")]
    rate = change_failure_rate(reply)
    severity: Severity = "warning" if rate is not None and rate > CFR_WARNING else "info"
    shown = "no finished deployment yet" if rate is None else f"{rate:.0%}"
    return [
        Finding(
            code=RECENT_CHANGE_FAILURE_RATE,
            severity=severity,
            message=f"Recent change failure rate of {service} (last 30 days): {shown} — a "
            "risk note; it does not change the verdict.",
            remediation="Above 15 %: look at the recent failures (GET /v1/metrics/dora) and "
            "prefer smaller batches and longer observation.",
            docs_url=docs_url(RECENT_CHANGE_FAILURE_RATE),
            source="metrics_collector",
            actual=rate,
            limit=CFR_WARNING,
        )
    ]


def _plan(preview: Reply) -> PlanOut | None:
    body = preview.body if preview.status == "ok" and preview.http_status == 200 else None
    if not body or not body.get("batches"):
        return None
    return PlanOut.model_validate(body)


def judge(
    preview: Reply, approvals: Reply, metrics: Reply, service: str | None, deadline_s: float
) -> PreflightOut:
    """The aggregate: findings of every service, the verdict of the preview, made no better
    than ``needs_approval`` when a check is missing."""
    found, verdict, enforced = _from_preview(preview)
    body = preview.body if preview.status == "ok" and preview.http_status == 200 else {}
    plan_hash = body.get("plan_hash")
    extra = _approvals(approvals, plan_hash) + _metrics(metrics, service)
    if verdict == "pass" and any(f.code in UNAVAILABLE.values() for f in extra):
        verdict = "needs_approval"
    evaluation = body.get("evaluation") or {}
    approval = body.get("approval")
    return PreflightOut(
        verdict=verdict,
        findings=found + extra,
        plan=_plan(preview),
        risk_score=evaluation.get("risk_score"),
        conflicts=[ConflictOut.model_validate(c) for c in body.get("conflicts", [])],
        approval=ApprovalNeededOut.model_validate(approval) if approval else None,
        enforcement=enforced,
        change_failure_rate=change_failure_rate(metrics),
        policy_version=evaluation.get("policy_version"),
        sources={
            name: SourceOut(status=reply.status, elapsed_ms=round(reply.elapsed_ms, 3))
            for name, reply in (
                ("rollout_orchestrator", preview),
                ("approval_workflow", approvals),
                ("metrics_collector", metrics),
            )
        },
        deadline_s=deadline_s,
    )
