"""The postmortem draft of a fixed, rolled-back run: every section, the failing batch's
evidence, the times, the policy and approval context, the DORA impact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.domain.postmortem import PostmortemInput, duration, failing_batch, render_postmortem
from gateway.domain.trail import DoraImpact

EVIDENCE = {
    "healthy": 1,
    "failed": 1,
    "sampled": 2,
    "batch_size": 2,
    "threshold": 0.9,
    "min_sample": 1,
    "consecutive_failures": 1,
    "window_start": "2026-12-01T10:05:00+00:00",
    "window_end": "2026-12-01T10:06:30+00:00",
}


def _transition(
    at: str,
    src: str | None,
    dst: str,
    event: str,
    kind: str,
    actor: str,
    code: str,
    reason: str,
    batch: int | None = None,
) -> dict[str, Any]:
    return {
        "at": at,
        "from": src,
        "to": dst,
        "event": event,
        "actor_kind": kind,
        "actor": actor,
        "reason_code": code,
        "reason": reason,
        "batch_index": batch,
        "driver": "r1",
    }


RUN: dict[str, Any] = {
    "id": "run-1",
    "agency": "acme",
    "service": "support-bot",
    "environment": "production",
    "status": "rolled_back",
    "revision": "rev-2",
    "actor": "key-ci",
    "reason": "batch 1 unhealthy: 1 of 2 healthy",
    "created_at": "2026-12-01T09:00:00+00:00",
    "started_at": "2026-12-01T10:00:00+00:00",
    "finished_at": "2026-12-01T10:08:00+00:00",
    "decision": {
        "id": "dec-1",
        "verdict": "needs_approval",
        "risk_score": 0.42,
        "reasons": [
            {"code": "freeze_window", "rule_id": "deployments.freeze", "message": "frozen"}
        ],
        "policy_version": "acme:3",
        "evaluated_at": "2026-12-01T09:00:00+00:00",
    },
    "approval": {
        "id": "apr-1",
        "status": "granted",
        "approvers": ["key-lead"],
        "requested_at": "2026-12-01T09:00:00+00:00",
        "decided_at": "2026-12-01T10:00:00+00:00",
        "wait_s": 3600.0,
    },
    "overrides": [{"limit": "freeze_window", "reason": "sev1 hotfix", "approval_id": "apr-1"}],
    "progress": {
        "agents_total": 4,
        "agents_updated": 4,
        "batches_total": 2,
        "batches_done": 2,
        "current_batch": None,
    },
    "batches": [
        {
            "index": 0,
            "size": 2,
            "status": "reverted",
            "verdict": {
                "outcome": "pass",
                "reason": "healthy",
                "evidence": {**EVIDENCE, "healthy": 2, "failed": 0},
            },
        },
        {
            "index": 1,
            "size": 2,
            "status": "reverted",
            "verdict": {"outcome": "fail", "reason": "unhealthy", "evidence": EVIDENCE},
        },
    ],
    "timeline": [
        _transition(
            "2026-12-01T09:00:00+00:00",
            None,
            "pending_approval",
            "approval_requested",
            "policy",
            "policy",
            "approval_required",
            "override freeze_window",
        ),
        _transition(
            "2026-12-01T10:00:00+00:00",
            "pending_approval",
            "running",
            "approved",
            "approval",
            "key-lead",
            "approval_granted",
            "granted",
        ),
        _transition(
            "2026-12-01T10:06:30+00:00",
            "running",
            "rolling_back",
            "rollback_started",
            "gate",
            "health_gate",
            "gate_failed",
            "1 of 2 healthy",
            1,
        ),
        _transition(
            "2026-12-01T10:08:00+00:00",
            "rolling_back",
            "rolled_back",
            "rolled_back",
            "system",
            "orchestrator",
            "reverted",
            "every agent reverted",
        ),
    ],
    "rollback": {
        "trigger": "health_gate",
        "actor": "health_gate",
        "reason": "1 of 2 healthy",
        "rule_id": None,
        "detected_at": "2026-12-01T10:06:30+00:00",
        "started_at": "2026-12-01T10:06:31+00:00",
        "finished_at": "2026-12-01T10:08:00+00:00",
        "agents_total": 4,
        "agents_reverted": 4,
    },
}
APPROVAL = {
    "id": "apr-1",
    "required_roles": ["admin"],
    "quorum": 1,
    "rule_ids": ["override"],
    "queue_seconds": 3600.0,
    "trail": [
        {
            "approver": "key-lead",
            "roles": ["admin"],
            "decision": "approve",
            "comment": "ok for the hotfix",
            "decided_at": "2026-12-01T10:00:00+00:00",
        }
    ],
}
IMPACT = DoraImpact(
    True,
    ("its status is rolled_back",),
    datetime(2026, 12, 1, 10, 6, 30, tzinfo=UTC),
    datetime(2026, 12, 1, 10, 8, tzinfo=UTC),
    90.0,
)


def _draft(**changes: Any) -> str:
    given = {"run": RUN, "approval": APPROVAL, "impact": IMPACT, **changes}
    return render_postmortem(PostmortemInput(**given))


def test_the_title_names_the_service_revision_environment_and_outcome() -> None:
    assert _draft().splitlines()[0] == (
        "# Postmortem (draft): support-bot rev-2 in production — rolled_back"
    )


def test_every_section_is_there_in_order() -> None:
    headings = [line for line in _draft().splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Timeline",
        "## What failed",
        "## Detection and recovery",
        "## Policy decision",
        "## Approval",
        "## DORA impact",
        "## To be written",
    ]


def test_the_failing_batch_is_the_first_whose_verdict_failed() -> None:
    batch = failing_batch(RUN)
    assert batch is not None
    assert batch["index"] == 1


def test_what_failed_shows_the_failing_batchs_evidence() -> None:
    text = _draft()
    assert "Batch 1 (2 agents) failed its health gate: verdict **fail** (unhealthy)." in text
    assert "**1 of 2 healthy** (1 failed; batch size 2)" in text
    assert "Threshold: 90% healthy, minimum sample 1, consecutive failures 1." in text
    assert "Window: 2026-12-01T10:05:00+00:00 → 2026-12-01T10:06:30+00:00 (1m 30s)" in text


def test_the_timeline_has_every_transition_with_its_actor_and_reason() -> None:
    text = _draft()
    assert (
        "| 2026-12-01T10:06:30+00:00 | running → rolling_back | rollback_started (batch 1) | "
        "gate `health_gate` | gate_failed: 1 of 2 healthy |"
    ) in text
    assert "| ∅ → pending_approval |" in text


def test_detection_and_recovery_times() -> None:
    text = _draft()
    assert "- Detected: 2026-12-01T10:06:30+00:00 (6m 30s after the start)" in text
    assert "- Detection → recovery: **1m 30s**" in text
    assert "- DORA recovery time: **1m 30s**" in text


def test_the_policy_decision_and_the_approval_context() -> None:
    text = _draft()
    assert "policy version `acme:3`" in text
    assert "- Rules: `deployments.freeze`." in text
    assert "waited **1h 0m 0s**" in text
    assert "- Approvers: `key-lead`." in text
    assert "`key-lead` (admin) approve at 2026-12-01T10:00:00+00:00: ok for the hotfix" in text


def test_the_dora_impact_says_failed_and_the_recovery_time() -> None:
    text = _draft()
    assert "Counted as **failed** in the change failure rate: its status is rolled_back." in text
    assert "- Failed deployment recovery time: **1m 30s**." in text


def test_without_facts_it_says_the_collector_has_none_yet() -> None:
    assert "has no fact of this deployment (yet)" in _draft(impact=None)


def test_a_run_without_approval_says_none_was_needed() -> None:
    assert "No approval was needed." in _draft(run={**RUN, "approval": None}, approval=None)


def test_unavailable_parts_are_named() -> None:
    text = _draft(gaps=["approval: the approval_workflow service did not answer"])
    assert "## Missing from this draft" in text
    assert "- approval: the approval_workflow service did not answer" in text


def test_a_table_cell_never_breaks_the_table() -> None:
    odd = {**RUN["timeline"][0], "reason": "a | b\nc"}
    text = _draft(run={**RUN, "timeline": [odd]})
    assert "a \\| b c" in text


def test_the_same_record_renders_the_same_text() -> None:
    assert _draft() == _draft()


def test_durations() -> None:
    assert duration(None) == "unknown"
    assert duration(0.4) == "0.4s"
    assert duration(5400) == "1h 30m 0s"
