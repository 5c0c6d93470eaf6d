"""`cortex approvals` and `CortexClient.wait_for_approval` against a stand-in gateway (a tiny
http.server in a thread that answers like the gateway and records what it was asked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cortex_kit.embedded import free_port
from cortex_sdk.cli import main
from cortex_sdk.client import ApiError, ApprovalOutcome, CortexClient

from .fake_gateway import FakeGateway, serve_fake_gateway

KEY = "cvc_0123456789ab_" + "A" * 43


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with serve_fake_gateway() as fake:
        yield fake


def approval(approval_id: str = "a-1", status: str = "pending", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": approval_id,
        "agency": "acme",
        "status": status,
        "subject": {"kind": "deployment", "id": "dep-1", "input_hash": "sha256:" + "ab" * 32},
        "requested_by": "0123456789ab",
        "requester_team": None,
        "required_roles": ["sre", "security"],
        "quorum": 2,
        "separation": "requester",
        "approvals": 1,
        "missing_roles": ["security"],
        "requested_at": "2026-12-04T10:00:00Z",
        "expires_at": "2026-12-05T10:00:00Z",
        "escalate_at": None,
        "escalate_to": None,
        "escalated_at": None,
        "decided_at": None,
        "queue_seconds": None,
        "superseded_by": None,
        "summary": "prompt change to 1000 agents",
        "reason": "",
        "rule_ids": ["deploy.high-risk"],
        "policy_version": "org:1+agency:2",
        "risk_score": 0.8,
        "trail": [
            {
                "approver": "ana",
                "roles": ["approver", "sre"],
                "team": None,
                "decision": "approve",
                "comment": "looks fine",
                "decided_at": "2026-12-04T10:05:00Z",
            }
        ],
    }
    return {**body, **overrides}


def problem(status: int, code: str) -> dict[str, Any]:
    return {
        "type": f"https://codevald.io/cortex/docs/errors#{code}",
        "title": code,
        "status": status,
        "code": code,
        "detail": f"{code} happened",
        "remediation": f"do not {code}",
    }


def decided(approval_id: str, status: str = "granted") -> dict[str, Any]:
    return {
        "approval": approval(approval_id, status, approvals=2, missing_roles=[]),
        "decision": approval()["trail"][0],
        "repeated": False,
    }


def cortex(gateway: FakeGateway, args: list[str], capsys: Any) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--url", gateway.url, "--api-key", KEY])
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def test_list_shows_a_table_and_mine_asks_for_the_decidable(
    gateway: FakeGateway, capsys: Any
) -> None:
    gateway.answer = lambda _: (200, {"items": [approval()], "next_cursor": None})
    code, out, _ = cortex(gateway, ["approvals", "list", "--mine", "--status", "pending"], capsys)
    assert code == 0
    [asked] = gateway.asked
    assert (asked.method, asked.path) == ("GET", "/v1/approvals")
    assert asked.query == {"mine": ["decidable"], "status": ["pending"], "limit": ["50"]}
    header, row = out.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "SUBJECT"]
    assert row.split()[:6] == ["a-1", "pending", "deployment", "dep-1", "1/2", "security"]


def test_list_json_is_the_page_as_answered(gateway: FakeGateway, capsys: Any) -> None:
    page = {"items": [approval()], "next_cursor": "abc"}
    gateway.answer = lambda _: (200, page)
    code, out, _ = cortex(gateway, ["approvals", "list", "--json"], capsys)
    assert (code, json.loads(out)) == (0, page)


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [("granted", 0), ("pending", 3), ("rejected", 2), ("expired", 2), ("superseded", 2)],
)
def test_show_exits_by_the_requests_status(
    gateway: FakeGateway, capsys: Any, status: str, exit_code: int
) -> None:
    gateway.answer = lambda _: (200, approval(status=status))
    code, out, _ = cortex(gateway, ["approvals", "show", "a-1"], capsys)
    assert code == exit_code
    assert out.splitlines()[0] == f"approval a-1 · {status}"
    assert "approve ana (approver, sre) — looks fine" in out
    assert "missing security" in out


def test_show_of_an_unknown_request_is_an_error(gateway: FakeGateway, capsys: Any) -> None:
    gateway.answer = lambda _: (404, problem(404, "approval_not_found"))
    code, _, err = cortex(gateway, ["approvals", "show", "nope", "--json"], capsys)
    assert code == 1
    assert "approval_not_found" in err


def test_one_id_is_decided_on_the_single_route(gateway: FakeGateway, capsys: Any) -> None:
    gateway.answer = lambda _: (200, decided("a-1"))
    code, out, _ = cortex(gateway, ["approvals", "approve", "a-1", "--comment", "ship it"], capsys)
    assert code == 0
    [asked] = gateway.asked
    assert (asked.method, asked.path) == ("POST", "/v1/approvals/a-1/decisions")
    assert asked.body == {"decision": "approve", "comment": "ship it"}
    assert out.strip() == "approved a-1: granted"


def test_a_refused_decision_exits_2_with_the_code_and_the_fix(
    gateway: FakeGateway, capsys: Any
) -> None:
    gateway.answer = lambda _: (403, problem(403, "self_approval_forbidden"))
    code, out, err = cortex(gateway, ["approvals", "approve", "a-1"], capsys)
    assert code == 2
    assert out == ""
    assert "refused a-1: 403 self_approval_forbidden" in err
    assert "fix: do not self_approval_forbidden" in err


def test_several_ids_go_to_the_bulk_route_and_each_is_answered(
    gateway: FakeGateway, capsys: Any
) -> None:
    answers = {
        "a-1": {"approval_id": "a-1", "status": 200, "result": decided("a-1", "rejected")},
        "a-2": {"approval_id": "a-2", "status": 409, "problem": problem(409, "already_decided")},
    }
    gateway.answer = lambda asked: (
        200,
        {"items": [answers[i["approval_id"]] for i in asked.body["items"]]},
    )
    code, out, err = cortex(
        gateway, ["approvals", "reject", "a-1", "a-2", "--comment", "not now"], capsys
    )
    assert code == 2
    [asked] = gateway.asked
    assert (asked.method, asked.path) == ("POST", "/v1/approvals/decisions")
    assert asked.body == {
        "items": [
            {"approval_id": "a-1", "decision": "reject", "comment": "not now"},
            {"approval_id": "a-2", "decision": "reject", "comment": "not now"},
        ]
    }
    assert out.strip() == "rejected a-1: rejected"
    assert "refused a-2: 409 already_decided" in err


def test_decisions_as_json_are_the_items_with_exit_2_when_one_is_refused(
    gateway: FakeGateway, capsys: Any
) -> None:
    gateway.answer = lambda _: (403, problem(403, "approver_role_missing"))
    code, out, _ = cortex(gateway, ["--json", "approvals", "approve", "a-1"], capsys)
    assert code == 2
    [item] = json.loads(out)["items"]
    assert (item["approval_id"], item["status"], item["problem"]["code"]) == (
        "a-1",
        403,
        "approver_role_missing",
    )


def test_a_gateway_that_cannot_be_reached_exits_1(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["approvals", "approve", "a-1", "--url", f"http://127.0.0.1:{free_port()}"])
    assert exit_.value.code == 1
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_wait_for_approval_polls_until_terminal(gateway: FakeGateway) -> None:
    statuses = iter(["pending", "pending", "granted"])
    gateway.answer = lambda _: (200, approval(status=next(statuses)))
    result = CortexClient(gateway.url, KEY).wait_for_approval("a-1", timeout_s=60)
    assert result.outcome is ApprovalOutcome.GRANTED
    assert result.granted
    assert not result.timed_out
    assert [(a.path, a.query["wait"]) for a in gateway.asked] == [("/v1/approvals/a-1", ["30"])] * 3


def test_wait_for_approval_answers_pending_at_the_timeout(gateway: FakeGateway) -> None:
    gateway.answer = lambda _: (200, approval(status="pending"))
    result = CortexClient(gateway.url, KEY).wait_for_approval("a-1", timeout_s=0)
    assert (result.outcome, result.timed_out, result.granted) == (
        ApprovalOutcome.PENDING,
        True,
        False,
    )
    assert result.approval["id"] == "a-1"


def test_wait_for_approval_names_the_newer_request_when_superseded(gateway: FakeGateway) -> None:
    gateway.answer = lambda _: (200, approval(status="superseded", superseded_by="a-2"))
    result = CortexClient(gateway.url, KEY).wait_for_approval("a-1", timeout_s=10)
    assert (result.outcome, result.superseded_by, result.granted) == (
        ApprovalOutcome.SUPERSEDED,
        "a-2",
        False,
    )


def test_wait_for_approval_asks_again_after_an_outage(gateway: FakeGateway) -> None:
    answers = iter([(503, problem(503, "upstream_unavailable")), (200, approval(status="expired"))])
    gateway.answer = lambda _: next(answers)
    result = CortexClient(gateway.url, KEY).wait_for_approval("a-1", timeout_s=30)
    assert result.outcome is ApprovalOutcome.EXPIRED
    assert len(gateway.asked) == 2


def test_wait_for_approval_raises_what_waiting_cannot_fix(gateway: FakeGateway) -> None:
    gateway.answer = lambda _: (404, problem(404, "approval_not_found"))
    with pytest.raises(ApiError) as raised:
        CortexClient(gateway.url, KEY).wait_for_approval("a-1", timeout_s=30)
    assert raised.value.code == "approval_not_found"
    assert len(gateway.asked) == 1
