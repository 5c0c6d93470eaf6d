"""Preflight's judgement without I/O: the verdict is the preview's, a missing service never
lets it pass, and each answer becomes findings with their fix."""

from __future__ import annotations

from typing import Any

from gateway.preflight.fanout import submitted
from gateway.preflight.findings import Reply, judge

RUNNING: dict[str, Any] = {
    "status": "running",
    "refusal": None,
    "plan_hash": "sha256:abc",
    "service": "support-bot",
    "environment": "production",
    "agents_total": 2,
    "batches": [{"index": 0, "size": 2, "agent_ids": ["a1", "a2"]}],
    "conflicts": [],
    "evaluation_request": {},
    "evaluation": {
        "verdict": "pass",
        "risk_score": 0.2,
        "reasons": [],
        "policy_version": "agency:1",
        "evaluated_at": None,
    },
    "approval": None,
    "overrides": [],
}
DORA = {"change_failure_rate": {"value": 0.4, "n": 5, "failed": 2}}
NO_APPROVALS: dict[str, Any] = {"items": []}


def ok(body: Any, status: int = 200) -> Reply:
    return Reply("ok", 1.0, status, body)


def down(why: str = "no answer within 2 s") -> Reply:
    return Reply("unavailable", 2000.0, why=why)


def codes(report: Any) -> list[str]:
    return [f.code for f in report.findings]


def test_a_running_preview_passes_with_its_batches_and_risk() -> None:
    report = judge(ok(RUNNING), ok(NO_APPROVALS), ok(DORA), "support-bot", 2.0)
    assert report.verdict == "pass"
    assert report.plan is not None
    assert report.plan.batches[0].agent_ids == ["a1", "a2"]
    assert report.risk_score == 0.2
    assert report.enforcement.status == "running"


def test_a_high_change_failure_rate_is_a_warning_that_does_not_change_the_verdict() -> None:
    report = judge(ok(RUNNING), ok(NO_APPROVALS), ok(DORA), "support-bot", 2.0)
    note = next(f for f in report.findings if f.code == "recent_change_failure_rate")
    assert (note.severity, note.actual, report.verdict) == ("warning", 0.4, "pass")


def test_a_silent_orchestrator_fails_closed() -> None:
    report = judge(down(), ok(NO_APPROVALS), ok(DORA), "support-bot", 2.0)
    assert report.verdict == "fail"
    assert "rollout_orchestrator_unavailable" in codes(report)
    assert report.enforcement.status == "unknown"


def test_a_silent_approval_workflow_or_collector_never_lets_a_pass_through() -> None:
    for approvals, metrics in ((down(), ok(DORA)), (ok(NO_APPROVALS), down())):
        report = judge(ok(RUNNING), approvals, metrics, "support-bot", 2.0)
        assert report.verdict == "needs_approval"
        assert report.enforcement.status == "running"


def test_a_refusal_is_a_failing_finding_with_its_code() -> None:
    refusal = {
        "status": 422,
        "code": "unknown_targets",
        "detail": "1 unknown",
        "remediation": "register them",
        "extra": {"missing": ["ghost"]},
    }
    preview = {**RUNNING, "status": "refused", "refusal": refusal, "batches": []}
    report = judge(ok(preview), ok(NO_APPROVALS), ok(DORA), "support-bot", 2.0)
    finding = next(f for f in report.findings if f.code == "unknown_targets")
    assert (report.verdict, finding.actual, report.plan) == ("fail", 1, None)
    assert report.enforcement.http_status == 422


def test_policy_unavailable_is_named_as_the_policy_engine() -> None:
    refusal = {
        "status": 503,
        "code": "policy_unavailable",
        "detail": "timeout",
        "remediation": "retry",
        "extra": {},
    }
    preview = {**RUNNING, "status": "refused", "refusal": refusal, "evaluation": None}
    report = judge(ok(preview), ok(NO_APPROVALS), ok(DORA), "support-bot", 2.0)
    assert "policy_engine_unavailable" in codes(report)
    assert report.verdict == "fail"


def test_a_pending_approval_of_the_same_plan_only_is_found() -> None:
    items = [
        {"id": "ap-1", "status": "pending", "subject": {"id": "run-1", "input_hash": "sha256:abc"}},
        {"id": "ap-2", "status": "pending", "subject": {"id": "run-2", "input_hash": "sha256:zzz"}},
    ]
    report = judge(ok(RUNNING), ok({"items": items}), ok(DORA), "support-bot", 2.0)
    found = [f for f in report.findings if f.code == "approval_pending_for_plan"]
    assert len(found) == 1
    assert "ap-1" in found[0].message


def test_a_pending_approval_preview_names_who_approves() -> None:
    approval = {"roles": ["platform-lead"], "quorum": 2, "expires_in_s": 3600, "rule_ids": []}
    preview = {
        **RUNNING,
        "status": "pending_approval",
        "approval": approval,
        "overrides": ["freeze_window"],
    }
    report = judge(ok(preview), ok(NO_APPROVALS), ok(DORA), "support-bot", 2.0)
    assert report.verdict == "needs_approval"
    assert codes(report)[:2] == ["override_requested", "deployment_needs_approval"]
    assert report.approval is not None
    assert report.approval.quorum == 2


def test_the_plan_is_read_for_its_service_whatever_its_media_type() -> None:
    assert submitted(b"service: bot\nenvironment: prod\n", "application/yaml").service == "bot"
    assert submitted(b'{"service": "bot"}', "application/json").service == "bot"
    assert submitted(b"service: [", "application/yaml").service is None
