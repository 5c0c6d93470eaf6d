"""The trail's pure rules: elements from answers, the run that minted an id, incidents naming
a run, and the DORA impact of a run's facts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.domain.trail import Answer, dora_impact, element, incidents_of, run_matching


def _fact(event_id: str, **facts: Any) -> dict[str, Any]:
    return {"event_id": event_id, "facts": facts}


def test_a_200_is_found_with_the_answer_as_returned() -> None:
    body = {"id": "x", "nested": {"a": 1}}
    got = element(Answer(200, body), "GET /v1/x", what="x")
    assert (got.state, got.value, got.source) == ("found", body, "GET /v1/x")


def test_a_404_is_missing_and_a_silent_service_unavailable() -> None:
    missing = element(Answer(404, {"code": "approval_not_found"}), "GET /v1/a", what="approval")
    assert missing.state == "missing"
    assert "approval_not_found" in (missing.reason or "")
    down = element(Answer(None, reason="refused"), "GET /v1/a", what="approval")
    assert (down.state, down.reason) == ("unavailable", "refused")


def test_the_run_that_minted_a_decision_or_approval_id() -> None:
    page = {
        "items": [
            {"id": "r2", "decision": {"id": "d2"}, "approval": None},
            {"id": "r1", "decision": {"id": "d1"}, "approval": {"id": "a1"}},
        ]
    }
    assert run_matching(page, "d1") == page["items"][1]
    assert run_matching(page, "a1") == page["items"][1]
    assert run_matching(page, "zz") is None


def test_incidents_naming_the_run() -> None:
    page = {
        "items": [
            _fact("i1", caused_by_deployment="r1"),
            _fact("i2"),
            _fact("i3", caused_by_deployment="r2"),
        ]
    }
    assert [i["event_id"] for i in incidents_of(page, "r1")] == ["i1"]


def test_a_succeeded_run_without_rollback_or_incident_is_not_failed() -> None:
    impact = dora_impact(
        _fact("r1", status="succeeded", finished_at="2026-12-01T10:00:00Z"), None, []
    )
    assert impact is not None
    assert not impact.counted_as_failed


def test_a_rollback_detects_at_its_start_and_recovers_at_its_finish() -> None:
    own = _fact("r1", status="succeeded", finished_at="2026-12-01T10:00:00Z")
    back = _fact(
        "r1:rollback",
        status="succeeded",
        rollback_of="r1",
        started_at="2026-12-01T11:00:00Z",
        finished_at="2026-12-01T11:02:00Z",
    )
    impact = dora_impact(own, back, [])
    assert impact is not None
    assert impact.counted_as_failed
    assert impact.failed_because == ("rolled back by deployment r1:rollback",)
    assert impact.detected_at == datetime(2026, 12, 1, 11, tzinfo=UTC)
    assert impact.recovery_s == 120.0


def test_an_earlier_incident_detects_and_its_resolution_may_recover() -> None:
    own = _fact("r1", status="succeeded", finished_at="2026-12-01T10:00:00Z")
    incident = _fact(
        "i1",
        caused_by_deployment="r1",
        opened_at="2026-12-01T10:30:00Z",
        resolved_at="2026-12-01T10:40:00Z",
    )
    impact = dora_impact(own, None, [incident])
    assert impact is not None
    assert impact.recovery_s == 600.0
    assert impact.failed_because == ("incident i1 names it as its cause",)


def test_a_failed_run_with_no_recovery_signal_is_unrecovered() -> None:
    impact = dora_impact(_fact("r1", status="failed", finished_at="2026-12-01T10:00:00Z"), None, [])
    assert impact is not None
    assert impact.counted_as_failed
    assert impact.recovered_at is None
    assert impact.recovery_s is None


def test_no_deployment_fact_no_impact() -> None:
    assert dora_impact(None, None, []) is None
