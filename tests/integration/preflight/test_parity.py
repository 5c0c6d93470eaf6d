"""Preflight predicts enforcement: for each plan of the table, on the same state, the verdict
and batches of ``POST /v1/preflight`` equal what ``POST /v1/deployments`` then does — pass ↔ 202
running with the same batches, needs_approval ↔ 202 pending_approval, fail ↔ the refusal with
the same status and code — against the real orchestrator and policy engine, a policy per case."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import yaml

from .conftest import Preflight

NOW = datetime.now(UTC)
WINDOW = {
    "start": (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "end": (NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "reason": "change freeze",
}


def policy_of(agency: str, deployments: dict[str, Any] | None) -> str:
    spec = {"deployments": deployments} if deployments is not None else {}
    return yaml.safe_dump(
        {
            "apiVersion": "cortex.codevald.io/v1",
            "kind": "AIPolicy",
            "metadata": {"name": agency, "agency": agency, "layer": "agency"},
            "spec": spec,
        }
    )


def plan(
    ids: list[str] | None = None,
    *,
    batch: int = 2,
    selector: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    targets: dict[str, Any] = {"ids": ids} if ids is not None else {"selector": selector or {}}
    body: dict[str, Any] = {
        "service": "support-bot",
        "environment": "production",
        "targets": targets,
        "change": {"revision": "rev-2", "prompt_revision": "p-7"},
        "strategy": {"max_batch_size": batch, "health_gate": {"observation_s": 30}},
    }
    return {**body, **extra}


def agents(n: int) -> list[str]:
    return [f"bot-{i:02d}" for i in range(n)]


def patch(n: int) -> dict[str, Any]:
    return {"change": {"revision": "rev-2", "config_patch": {f"k{i}": i for i in range(n)}}}


OVERRIDE_BATCH = [{"limit": "max_agents_per_batch", "reason": "sev1 hotfix"}]
OVERRIDE_FREEZE = [{"limit": "freeze_window", "reason": "sev1 hotfix"}]
OVERRIDE_CONFIG = [{"limit": "max_config_changes", "reason": "sev1 hotfix"}]


@dataclass(frozen=True)
class Case:
    name: str
    deployments: dict[str, Any] | None  # the agency policy's `deployments` (None: no policy)
    body: Any  # the plan (a dict sent as JSON or YAML, or raw text)
    verdict: str
    code: str | None = None  # the refusal's code, for fail
    fleet: int = 4
    busy: list[str] = field(default_factory=list)  # agents an earlier run holds
    media: str = "application/json"


CASES = [
    Case("pass", {"max_agents_per_batch": 5}, plan(agents(4), batch=2), "pass"),
    Case("pass_no_limits", {}, plan(agents(3), batch=3), "pass"),
    Case("pass_selector", {}, plan(selector={"team": "payments"}, batch=2), "pass"),
    Case(
        "pass_many_batches",
        {"max_agents_per_batch": 3},
        plan(agents(10), batch=3),
        "pass",
        fleet=10,
    ),
    Case("pass_yaml", {}, plan(agents(2), batch=1), "pass", media="application/yaml"),
    Case(
        "pass_freeze_elsewhere",
        {"freeze_windows": [{**WINDOW, "environments": ["staging"]}]},
        plan(agents(2), batch=1),
        "pass",
    ),
    Case(
        "batch_over_limit",
        {"max_agents_per_batch": 2},
        plan(agents(4), batch=3),
        "fail",
        "deployment_blocked",
    ),
    Case(
        "too_many_config_changes",
        {"max_config_changes": 1},
        {**plan(agents(2), batch=1), **patch(3)},
        "fail",
        "deployment_blocked",
    ),
    Case(
        "freeze_window",
        {"freeze_windows": [{**WINDOW, "environments": ["prod*"]}]},
        plan(agents(2), batch=1),
        "fail",
        "deployment_blocked",
    ),
    Case(
        "two_blocks",
        {"max_agents_per_batch": 1, "max_config_changes": 1},
        {**plan(agents(2), batch=2), **patch(2)},
        "fail",
        "deployment_blocked",
    ),
    Case("no_policy", None, plan(agents(2), batch=1), "fail", "deployment_blocked"),
    Case(
        "freeze_break_glass",
        {
            "freeze_windows": [{**WINDOW, "effect": "require_approval"}],
            "approval": {"roles": ["platform-lead"], "quorum": 1, "expires_in": "1h"},
        },
        plan(agents(2), batch=1),
        "needs_approval",
    ),
    Case(
        "risk_above_threshold",
        {"approval_above_risk": 0.05},
        plan(agents(4), batch=4),
        "needs_approval",
    ),
    Case(
        "override_asked_on_a_pass",
        {},
        plan(agents(2), batch=1, overrides=OVERRIDE_FREEZE),
        "needs_approval",
    ),
    Case(
        "override_covers_the_batch",
        {"max_agents_per_batch": 2},
        plan(agents(4), batch=3, overrides=OVERRIDE_BATCH),
        "needs_approval",
    ),
    Case(
        "override_covers_the_freeze",
        {"freeze_windows": [WINDOW]},
        plan(agents(2), batch=1, overrides=OVERRIDE_FREEZE),
        "needs_approval",
    ),
    Case(
        "override_of_another_limit",
        {"max_agents_per_batch": 2},
        plan(agents(4), batch=3, overrides=OVERRIDE_CONFIG),
        "fail",
        "deployment_blocked",
    ),
    Case(
        "busy_targets",
        {},
        plan(agents(4), batch=2),
        "fail",
        "targets_busy",
        busy=["bot-00", "bot-01"],
    ),
    Case(
        "busy_and_blocked",
        {"max_agents_per_batch": 1},
        plan(agents(3), batch=2),
        "fail",
        "targets_busy",
        busy=["bot-02"],
    ),
    Case("unknown_targets", {}, plan(["bot-00", "ghost-1"], batch=1), "fail", "unknown_targets"),
    Case("no_targets", {}, plan(selector={"team": "nobody"}), "fail", "no_targets"),
    Case("invalid_plan", {}, {"service": "support-bot", "targets": {}}, "fail", "invalid_plan"),
    Case(
        "not_a_document", {}, "service: [unclosed", "fail", "invalid_plan", media="application/yaml"
    ),
    Case("unsupported_type", {}, "hello", "fail", "unsupported_plan_type", media="text/plain"),
]


def content(case: Case) -> bytes:
    if isinstance(case.body, str):
        return case.body.encode()
    if case.media == "application/yaml":
        return yaml.safe_dump(case.body).encode()
    return json.dumps(case.body).encode()


async def arrange(ctx: Preflight, agency: str, case: Case) -> None:
    if case.deployments is not None:
        async with ctx.service("policy_engine", agency) as engine:
            put = await engine.put(
                f"/v1/agencies/{agency}/policy",
                content=policy_of(agency, case.deployments),
                headers={"Content-Type": "application/yaml"},
            )
            assert put.status_code == 201, put.text
    async with ctx.service("rollout_orchestrator", agency) as orchestrator:
        for agent_id in agents(case.fleet):
            body = {
                "id": agent_id,
                "labels": {"team": "payments"},
                "runtime": "py",
                "current_revision": "rev-1",
            }
            assert (await orchestrator.post("/v1/agents", json=body)).status_code == 201
        if case.busy:
            held = await orchestrator.post(
                "/v1/deployments", json=plan(case.busy, batch=1, overrides=OVERRIDE_FREEZE)
            )
            assert held.status_code == 202, held.text  # pending_approval: active, holds them


async def enforce(ctx: Preflight, agency: str, case: Case) -> httpx.Response:
    async with ctx.service("rollout_orchestrator", agency) as orchestrator:
        return await orchestrator.post(
            "/v1/deployments", content=content(case), headers={"Content-Type": case.media}
        )


async def test_preflight_predicts_what_creation_does_for_every_plan(preflight: Preflight) -> None:
    assert len(CASES) >= 20
    mismatches = []
    async with preflight.gateway() as gateway:
        for n, case in enumerate(CASES):
            agency = f"parity-{n:02d}"
            await arrange(preflight, agency, case)
            answer = await gateway.post(
                "/v1/preflight",
                params={"agency": agency},
                content=content(case),
                headers={"Content-Type": case.media},
            )
            assert answer.status_code == 200, (case.name, answer.text)
            seen = answer.json()
            created = await enforce(preflight, agency, case)
            got = outcome(created)
            predicted = (seen["verdict"], seen["enforcement"]["code"])
            same_status = seen["enforcement"]["http_status"] == created.status_code
            if (seen["verdict"], got[0]) not in AGREE or predicted[1] != got[1] or not same_status:
                mismatches.append((case.name, predicted, got, seen["findings"]))
            elif seen["verdict"] != case.verdict or got[1] != case.code:
                mismatches.append((case.name, "expected", case.verdict, case.code, got))
            elif created.status_code == 202:
                assert_same_batches(case, seen, created.json())
            assert_findings_are_complete(case, seen)
    assert not mismatches, mismatches


AGREE = {("pass", "running"), ("needs_approval", "pending_approval"), ("fail", "refused")}


def outcome(created: httpx.Response) -> tuple[str, str | None]:
    if created.status_code == 202:
        return created.json()["status"], None
    return "refused", created.json()["code"]


def assert_same_batches(case: Case, seen: dict[str, Any], run: dict[str, Any]) -> None:
    predicted = [b["agent_ids"] for b in seen["plan"]["batches"]]
    assert predicted == [b["agent_ids"] for b in run["batches"]], case.name
    assert seen["risk_score"] == run["decision"]["risk_score"], case.name
    assert seen["enforcement"] == {"status": run["status"], "http_status": 202, "code": None}


def assert_findings_are_complete(case: Case, seen: dict[str, Any]) -> None:
    for finding in seen["findings"]:
        for key in ("code", "severity", "message", "remediation", "docs_url", "source"):
            assert finding[key], (case.name, key, finding)
    if case.verdict != "pass":
        blocking = [f for f in seen["findings"] if f["severity"] in ("medium", "high", "critical")]
        assert blocking, (case.name, seen["findings"])
