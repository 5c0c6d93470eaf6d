"""`cortex trail`'s human view of a fixed trail: every element, an unavailable one said so."""

from __future__ import annotations

from typing import Any

from cortex_sdk.cli_trail import render

EVIDENCE = {"healthy": 0, "sampled": 2, "threshold": 0.9}
RUN = {
    "id": "run-1",
    "service": "support-bot",
    "revision": "rev-2",
    "environment": "production",
    "status": "rolled_back",
    "actor": "key-ci",
    "batches": [
        {"index": 0, "status": "reverted", "verdict": None},
        {"index": 1, "status": "reverted", "verdict": {"outcome": "fail", "evidence": EVIDENCE}},
    ],
    "timeline": [
        {
            "at": "t1",
            "from": None,
            "to": "running",
            "actor_kind": "person",
            "actor": "key-ci",
            "reason": "submitted",
        },
        {
            "at": "t2",
            "from": "running",
            "to": "rolling_back",
            "actor_kind": "gate",
            "actor": "health_gate",
            "reason": "0 of 2 healthy",
        },
    ],
    "rollback": {
        "trigger": "health_gate",
        "actor": "health_gate",
        "reason": "0 of 2 healthy",
        "agents_reverted": 4,
        "agents_total": 4,
    },
}


def _element(value: Any = None, state: str = "found", reason: str | None = None) -> Any:
    return {"state": state, "source": "GET /v1/x", "value": value, "reason": reason}


TRAIL = {
    "id": "dec-1",
    "agency": "acme",
    "found_as": "decision",
    "deployment": _element(RUN),
    "decision": _element(
        {
            "id": "dec-1",
            "verdict": "pass",
            "risk_score": 0.2,
            "policy_version": "acme:3",
            "reasons": [{"rule_id": "r.1"}],
        }
    ),
    "approval": _element(state="unavailable", reason="the approval_workflow did not answer"),
    "dora": {
        "deployment": _element({"event_id": "run-1", "facts": {"status": "rolled_back"}}),
        "rollback": _element({"event_id": "run-1:rollback", "facts": {}}),
        "incidents": [],
        "incidents_reason": None,
        "impact": {
            "counted_as_failed": True,
            "failed_because": ["its status is rolled_back"],
            "recovery_s": 90.0,
        },
    },
}


def test_the_view_names_every_element() -> None:
    lines = render(TRAIL).splitlines()
    assert lines[0] == "trail · acme · dec-1 (found as decision)"
    text = "\n".join(lines)
    assert "run-1  support-bot rev-2 → production  rolled_back  (by key-ci)" in text
    assert "dec-1  pass  risk 0.2  policy acme:3  rules: r.1" in text
    assert "#1 reverted (0/2 healthy, threshold 90%)" in text
    assert "t2  running → rolling_back  gate health_gate: 0 of 2 healthy" in text
    assert "health_gate by health_gate: 0 of 2 healthy — 4/4 reverted" in text
    assert "failed (its status is rolled_back); recovery 1m" in text


def test_an_unavailable_element_says_why() -> None:
    assert "approval    unavailable: the approval_workflow did not answer" in render(TRAIL)
