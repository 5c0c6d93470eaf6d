"""`cortex deploy`, `cortex rollback` and `cortex deployments …` against a stand-in gateway (a
tiny http.server in a thread) that plays recorded answers of the deployments API
(docs/rollouts.md) and records what it was asked: output, the long-poll it drives, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cortex_kit.embedded import free_port
from cortex_sdk import deploy_view
from cortex_sdk.cli import main

from .fake_gateway import Answer, Asked, FakeGateway, serve_fake_gateway

KEY = "cvc_0123456789ab_" + "A" * 43
PLAN = """\
service: checkout-agent
environment: production
targets: {selector: {team: payments}}
change: {revision: rev-42, model: gpt-4.1-mini}
strategy: {max_batch_size: 2}
"""


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with serve_fake_gateway() as fake:
        yield fake


def batch(index: int, status: str = "pending", outcome: str | None = None) -> dict[str, Any]:
    verdict = None
    if outcome is not None:
        healthy = 2 if outcome == "pass" else 1
        verdict = {
            "outcome": outcome,
            "reason": "healthy" if outcome == "pass" else "unhealthy",
            "evidence": {
                "healthy": healthy,
                "failed": 2 - healthy,
                "sampled": 2,
                "batch_size": 2,
                "threshold": 1.0,
            },
        }
    return {
        "index": index,
        "agent_ids": [f"a{2 * index}", f"a{2 * index + 1}"],
        "status": status,
        "verdict": verdict,
        "started_at": None,
        "finished_at": None,
    }


def record(status: str = "running", version: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "dep-1",
        "agency": "acme",
        "service": "checkout-agent",
        "environment": "production",
        "status": status,
        "version": version,
        "revision": "rev-42",
        "actor": "0123456789ab",
        "created_at": "2026-12-06T10:00:00Z",
        "updated_at": "2026-12-06T10:00:00Z",
        "finished_at": None,
        "plan": {},
        "decision": {
            "id": "dec-1",
            "verdict": "pass",
            "risk_score": 0.21,
            "reasons": [],
            "policy_version": "org:1",
            "evaluated_at": "2026-12-06T10:00:00Z",
        },
        "approval": None,
        "overrides": [],
        "progress": {
            "agents_total": 4,
            "agents_updated": 0,
            "batches_total": 2,
            "batches_done": 0,
            "current_batch": 0,
        },
        "batches": [batch(0, "observing"), batch(1)],
        "timeline": [
            {
                "at": "2026-12-06T10:00:00Z",
                "from": None,
                "to": "running",
                "event": "started",
                "actor_kind": "person",
                "actor": "0123456789ab",
                "reason_code": "policy_pass",
                "reason": "",
                "batch_index": None,
            }
        ],
        "rollback": None,
        "snapshot": {"id": "snap-1", "agents": 4},
        "status_url": "/v1/deployments/dep-1",
    }
    return {**body, **overrides}


def problem(status: int, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://codevald.io/cortex/docs/errors#{code}",
        "title": code,
        "status": status,
        "code": code,
        "detail": f"{code} happened",
        "remediation": f"do not {code}",
        **extra,
    }


def succeeded() -> dict[str, Any]:
    done = record("succeeded", 3, finished_at="2026-12-06T10:05:00Z")
    done["progress"] = {
        **done["progress"],
        "agents_updated": 4,
        "batches_done": 2,
        "current_batch": 1,
    }
    done["batches"] = [batch(0, "passed", "pass"), batch(1, "passed", "pass")]
    done["timeline"] = [
        *done["timeline"],
        {
            "at": "2026-12-06T10:05:00Z",
            "from": "running",
            "to": "succeeded",
            "event": "succeeded",
            "actor_kind": "gate",
            "actor": "health_gate",
            "reason_code": "all_batches_passed",
            "reason": "",
            "batch_index": 1,
        },
    ]
    return done


def rolled_back() -> dict[str, Any]:
    done = record("rolled_back", 4, finished_at="2026-12-06T10:03:00Z")
    done["batches"] = [batch(0, "reverted", "fail"), batch(1)]
    done["rollback"] = {
        "trigger": "health_gate",
        "actor": "health_gate",
        "reason": "batch 0 unhealthy",
        "started_at": "2026-12-06T10:02:00Z",
        "finished_at": "2026-12-06T10:03:00Z",
        "agents_total": 2,
        "agents_reverted": 2,
    }
    return done


def play(*records: dict[str, Any], created: Answer | None = None) -> Callable[[Asked], Answer]:
    """POST answers ``created`` (default: the first record, 202); each GET the next record
    after it (the last one again once they run out)."""
    reads = list(records[1:] or records)

    def answer(asked: Asked) -> Answer:
        if asked.method == "POST":
            return created or (202, records[0])
        return 200, reads.pop(0) if len(reads) > 1 else reads[0]

    return answer


def cortex(gateway: FakeGateway, args: list[str], capsys: Any) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--url", gateway.url, "--api-key", KEY])
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


@pytest.fixture
def plan(tmp_path: Path) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return str(path)


def test_deploy_posts_the_yaml_with_an_idempotency_key_and_exits_0_once_running(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    gateway.answer = play(record())
    code, out, _ = cortex(gateway, ["deploy", "-f", plan], capsys)
    assert code == 0
    [asked] = gateway.asked
    assert (asked.method, asked.path, asked.raw.decode()) == ("POST", "/v1/deployments", PLAN)
    assert asked.headers["content-type"] == "application/yaml"
    assert asked.headers["idempotency-key"]
    assert out.splitlines()[0] == (
        "deployment dep-1 · running (checkout-agent → production, revision rev-42)"
    )


def test_deploy_passes_the_key_it_is_given(gateway: FakeGateway, capsys: Any, plan: str) -> None:
    gateway.answer = play(record())
    cortex(gateway, ["deploy", "-f", plan, "--idempotency-key", "ci-run-77"], capsys)
    assert gateway.asked[0].headers["idempotency-key"] == "ci-run-77"


def test_deploy_without_wait_exits_3_when_it_needs_an_approval(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    gateway.answer = play(record("pending_approval"))
    code, _, _ = cortex(gateway, ["deploy", "-f", plan], capsys)
    assert code == 3


def test_a_blocked_plan_exits_2_with_every_reason_and_its_fix(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    reason = {
        "code": "batch_too_large",
        "message": "batch of 2 over the limit of 1",
        "remediation": "lower max_batch_size",
        "rule_id": "org.max-batch",
        "actual": 2,
        "limit": 1,
    }
    gateway.answer = play(
        record(), created=(422, problem(422, "deployment_blocked", reasons=[reason]))
    )
    code, _, err = cortex(gateway, ["deploy", "-f", plan], capsys)
    assert code == 2
    assert err.splitlines() == [
        "blocked: deployment_blocked: deployment_blocked happened",
        "  batch_too_large: batch of 2 over the limit of 1 "
        "(rule_id=org.max-batch actual=2 limit=1)",
        "    fix: lower max_batch_size",
        "  fix: do not deployment_blocked",
    ]


def test_busy_targets_exit_2_and_name_the_run_holding_them(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    conflicts = [{"agent_id": "a1", "deployment_id": "dep-0"}]
    gateway.answer = play(
        record(), created=(409, problem(409, "targets_busy", conflicts=conflicts))
    )
    code, _, err = cortex(gateway, ["deploy", "-f", plan], capsys)
    assert code == 2
    assert "  a1 is in deployment dep-0" in err.splitlines()


@pytest.mark.parametrize("code_name", ["invalid_plan", "no_targets", "unknown_targets"])
def test_a_plan_in_error_is_a_usage_error(
    gateway: FakeGateway, capsys: Any, plan: str, code_name: str
) -> None:
    gateway.answer = play(record(), created=(422, problem(422, code_name)))
    code, _, _ = cortex(gateway, ["deploy", "-f", plan], capsys)
    assert code == 1


def test_a_missing_plan_file_is_a_usage_error(gateway: FakeGateway, capsys: Any) -> None:
    code, _, err = cortex(gateway, ["deploy", "-f", "/nonexistent/plan.yaml"], capsys)
    assert code == 1
    assert "cannot read /nonexistent/plan.yaml" in err
    assert gateway.asked == []


def test_wait_follows_the_record_by_version_and_prints_a_line_per_change(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    middle = record("running", 2, batches=[batch(0, "passed", "pass"), batch(1, "observing")])
    middle["progress"] = {
        **middle["progress"],
        "agents_updated": 2,
        "batches_done": 1,
        "current_batch": 1,
    }
    gateway.answer = play(record(), middle, succeeded())
    code, out, _ = cortex(gateway, ["deploy", "-f", plan, "--wait"], capsys)
    assert code == 0
    reads = [a for a in gateway.asked if a.method == "GET"]
    assert [a.path for a in reads] == ["/v1/deployments/dep-1"] * 2
    assert [(a.query["version"], a.query["wait"]) for a in reads] == [
        (["1"], ["30"]),
        (["2"], ["30"]),
    ]
    lines = out.splitlines()
    assert lines[2:4] == [
        "2026-12-06T10:00:00Z - → running by person 0123456789ab: policy_pass",
        "batch 0: 2 agent(s), observing · observing",
    ]
    assert f"{deploy_view.bar(2, 4)} 2/4 agents · batch 2/2 · running" in lines
    assert "batch 0: 2 agent(s), passed · pass healthy — 2/2 healthy of 2, threshold 1.0" in lines
    assert (
        "2026-12-06T10:05:00Z running → succeeded (batch 1) by gate health_gate: "
        "all_batches_passed" in lines
    )
    assert "deployment dep-1 · succeeded" in lines


def test_wait_exits_2_when_the_run_is_rolled_back_and_shows_the_rollback(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    gateway.answer = play(record(), rolled_back())
    code, out, _ = cortex(gateway, ["deploy", "-f", plan, "--wait"], capsys)
    assert code == 2
    assert (
        "rollback   health_gate by health_gate: batch 0 unhealthy; 2/2 reverted" in out.splitlines()
    )


def test_wait_keeps_waiting_through_an_approval(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    granted = record(
        "running",
        2,
        approval={"id": "ap-1", "status": "granted", "approvers": ["ana"], "wait_s": 42},
    )
    gateway.answer = play(record("pending_approval"), granted, succeeded())
    code, _, _ = cortex(gateway, ["deploy", "-f", plan, "--wait"], capsys)
    assert code == 0


def test_wait_json_prints_the_final_record_only(
    gateway: FakeGateway, capsys: Any, plan: str
) -> None:
    gateway.answer = play(record(), succeeded())
    code, out, _ = cortex(gateway, ["deploy", "-f", plan, "--wait", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == succeeded()


def test_rollback_sends_the_reason_and_a_refusal_exits_2(gateway: FakeGateway, capsys: Any) -> None:
    gateway.answer = lambda _: (200, record("rolling_back", 5))
    code, out, _ = cortex(gateway, ["rollback", "dep-1", "--reason", "errors up"], capsys)
    assert code == 0
    [asked] = gateway.asked
    assert (asked.path, asked.body) == (
        "/v1/deployments/dep-1/rollback",
        {"reason": "errors up"},
    )
    assert out.splitlines()[0] == "rollback: deployment dep-1 is rolling_back"

    gateway.answer = lambda _: (409, problem(409, "invalid_transition", allowed=["rollback"]))
    code, _, err = cortex(gateway, ["deployments", "resume", "dep-1", "--reason", "x"], capsys)
    assert code == 2
    assert err.strip() == "refused: invalid_transition happened (allowed now: rollback)"


def test_a_command_needs_a_reason(gateway: FakeGateway, capsys: Any) -> None:
    code, _, _ = cortex(gateway, ["deployments", "pause", "dep-1"], capsys)
    assert code == 1
    assert gateway.asked == []


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [
        ("running", 0),
        ("succeeded", 0),
        ("pending_approval", 3),
        ("failed", 2),
        ("rolled_back", 2),
        ("aborted", 2),
        ("rejected", 2),
    ],
)
def test_show_exits_by_the_runs_status(
    gateway: FakeGateway, capsys: Any, status: str, exit_code: int
) -> None:
    gateway.answer = lambda _: (200, record(status))
    code, out, _ = cortex(gateway, ["deployments", "show", "dep-1"], capsys)
    assert code == exit_code
    assert out.splitlines()[0] == f"deployment dep-1 · {status}"


def test_list_shows_a_table_and_passes_the_filters(gateway: FakeGateway, capsys: Any) -> None:
    gateway.answer = lambda _: (200, {"items": [record()], "next_after": None})
    code, out, _ = cortex(
        gateway, ["deployments", "list", "--status", "running", "--service", "checkout"], capsys
    )
    assert code == 0
    assert gateway.asked[0].query == {
        "status": ["running"],
        "service": ["checkout"],
        "limit": ["50"],
    }
    header, row = out.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "SERVICE"]
    assert row.split()[:5] == ["dep-1", "running", "checkout-agent", "production", "0/4"]


def test_an_unreachable_gateway_exits_1(capsys: Any, plan: str) -> None:
    unreachable = FakeGateway(f"http://127.0.0.1:{free_port()}")
    code, _, err = cortex(unreachable, ["deployments", "show", "dep-1"], capsys)
    assert code == 1
    assert "cannot reach the gateway" in err


def test_the_progress_line_counts_reverted_agents_while_rolling_back() -> None:
    rolling = rolled_back() | {"status": "rolling_back"}
    rolling["rollback"] = {**rolling["rollback"], "agents_reverted": 1}
    assert deploy_view.progress_line(rolling) == (
        f"{deploy_view.bar(1, 2)} 1/2 agents reverted · batch 1/2 · rolling_back"
    )
