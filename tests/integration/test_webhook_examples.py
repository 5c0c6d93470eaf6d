"""Every GitHub example payload of the event types the gateway maps, as GitHub publishes them
(npm ``@octokit/webhooks-examples``, pinned in ``.tools/package.json`` and installed by
``make tools``, which ``make test`` runs first), github.com and GHES variants alike, through the
gateway's webhook endpoint with a valid signature into DORA: no 5xx, each delivery answered
with the service and environment it was mapped to or ignored with a reason, and the stored
facts are the payload's (a push's commits, a deployment's sha as its head commit).

Each example goes to an agency of its own: the examples reuse deployment ids with different
environments, which in one agency would be versions of one deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.webhooks.mapping import GITHUB_COM, github_host, slug
from gateway.webhooks.signatures import github_signature

from .conftest import Cluster
from .test_dora_api import eventually

EXAMPLES = Path(__file__).parents[2] / ".tools/node_modules/@octokit/webhooks-examples"
MAPPED = ("push", "pull_request", "deployment", "deployment_status")
SECRET = "whsec-0123456789abcdef"
STATES = {"success": "succeeded", "failure": "failed", "error": "failed"}


@dataclass(frozen=True)
class Example:
    name: str  # e.g. ghes-35/deployment_status/1
    event: str
    payload: dict[str, Any]


def _examples() -> Iterator[Example]:
    if not EXAMPLES.is_dir():
        pytest.fail(f"{EXAMPLES} is missing: run `make tools` (npm ci --prefix .tools)")
    for index in sorted(EXAMPLES.glob("*/index.json")):
        for webhook in json.loads(index.read_text()):
            if webhook["name"] in MAPPED:
                for n, payload in enumerate(webhook["examples"]):
                    name = f"{index.parent.name}/{webhook['name']}/{n}"
                    yield Example(name, webhook["name"], payload)


def _merged(example: Example) -> Example | None:
    """A merged pull request made from a closed one (no published example is merged): the
    same payload with the fields a merge sets."""
    pr = example.payload.get("pull_request") or {}
    if example.event != "pull_request" or example.payload.get("action") != "closed":
        return None
    merged = {**pr, "merged": True, "merged_at": pr["closed_at"], "merge_commit_sha": "e" * 40}
    return Example(
        f"{example.name}/merged", "pull_request", {**example.payload, "pull_request": merged}
    )


def _all() -> list[Example]:
    found = list(_examples())
    return found + [m for e in found if (m := _merged(e)) is not None]


def _deployment_id(payload: dict[str, Any]) -> str:
    host = github_host(payload)
    raw = payload["deployment"]["id"]
    return f"github-{raw}" if host == GITHUB_COM else f"github-{host}-{raw}"


def _expected(example: Example) -> dict[str, dict[str, Any]]:
    """event id → what its stored fact must say; empty when the delivery must be ignored."""
    p, service = example.payload, slug(example.payload["repository"]["name"])
    if example.event == "push":
        default = p["repository"].get("default_branch") or p["repository"]["master_branch"]
        if p["ref"] != f"refs/heads/{default}" or p.get("deleted"):
            return {}
        repo = f"{github_host(p)}/{p['repository']['full_name']}"
        return {
            c["id"]: {"service": service, "commit_sha": c["id"], "repo": repo} for c in p["commits"]
        }
    if example.event == "pull_request":
        pr = p["pull_request"]
        if not pr.get("merged") or pr["base"]["ref"] != p["repository"]["default_branch"]:
            return {}
        sha = pr["merge_commit_sha"]
        return {sha: {"service": service, "commit_sha": sha, "pr_id": str(pr["number"])}}
    deployment = p["deployment"]
    status = p.get("deployment_status")
    state = "in_progress" if status is None else STATES.get(status["state"], "in_progress")
    environment = (status or {}).get("environment") or deployment["environment"]
    return {
        _deployment_id(p): {
            "service": service,
            "environment": slug(environment),
            "head_commit": deployment["sha"],
            "status": state,
        }
    }


async def _deliver(hook: httpx.AsyncClient, agency: str, example: Example) -> httpx.Response:
    body = json.dumps(example.payload).encode()
    return await hook.post(
        f"/v1/webhooks/github?agency={agency}",
        content=body,
        headers={
            "X-GitHub-Event": example.event,
            "X-GitHub-Delivery": f"example-{agency}",
            "X-Hub-Signature-256": github_signature(SECRET, body),
            "Content-Type": "application/json",
        },
    )


def _check_answer(example: Example, answer: dict[str, Any], expected: dict[str, Any]) -> None:
    if not expected:
        assert answer["ignored"] is True, example.name
        assert answer["reason"], example.name
        assert answer["events"] == [], example.name
        return
    assert (answer["ignored"], answer["accepted"]) == (False, len(expected)), example.name
    for event in answer["events"]:
        want = expected[event["id"]]
        assert event["service"] == want["service"], example.name
        assert event["service_from"] == "payload", example.name
        assert event["environment"] == want.get("environment"), example.name
        assert event["environment_from"] == ("payload" if "environment" in want else None)


def _check_fact(example: Example, stored: dict[str, Any], want: dict[str, Any]) -> None:
    facts = stored["facts"]
    assert stored["service"] == want["service"], example.name
    for field in ("commit_sha", "repo", "pr_id", "head_commit"):
        if field in want:
            assert facts[field] == want[field], (example.name, field)
    if "environment" in want:
        assert stored["environment"] == want["environment"], example.name
        assert facts["status"].lower().endswith(want["status"]), example.name


async def test_every_published_github_example_maps_into_dora(cluster: Cluster) -> None:
    examples = _all()
    events = {e.event for e in examples}
    assert events == set(MAPPED), events
    assert any(e.name.startswith("ghes-") for e in examples)
    expected: dict[str, dict[str, dict[str, Any]]] = {}
    async with cluster.client() as admin, cluster.client(key=None) as hook:
        for n, example in enumerate(examples):
            agency = f"example-{n}"
            secret = {"agency": agency, "secret": SECRET}
            assert (await admin.put("/v1/webhooks/github/secret", json=secret)).status_code == 200
            resp = await _deliver(hook, agency, example)
            assert resp.status_code == 202, (example.name, resp.text)
            expected[agency] = _expected(example)
            _check_answer(example, resp.json(), expected[agency])
    assert sum(len(e) for e in expected.values()) >= 10  # most examples store something

    async with cluster.client() as admin:
        for n, example in enumerate(examples):
            agency, want = f"example-{n}", expected[f"example-{n}"]

            async def stored(agency: str = agency) -> dict[str, dict[str, Any]]:
                resp = await admin.get("/v1/events", params={"agency": agency})
                return {e["event_id"]: e for e in resp.json()["items"]}

            facts = await eventually(stored, lambda s, want=want: set(s) == set(want))
            assert set(facts) == set(want), example.name
            for event_id, fact in want.items():
                _check_fact(example, facts[event_id], fact)
