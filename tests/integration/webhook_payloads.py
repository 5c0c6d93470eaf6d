"""Webhook payloads written to each provider's documented shape (GitHub's webhook reference and
@octokit/webhooks-examples, GitLab's webhook_events.md, PagerDuty's v3 webhook envelope), and
signed deliveries of them through the gateway, for the integration tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from gateway.webhooks.signatures import github_signature, pagerduty_signature

from .conftest import Cluster
from .test_dora_api import eventually

SECRET = "whsec-0123456789abcdef"
AGENCY = "acme"
# Recent enough for the default DORA window (the last 30 days), whole seconds.
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def gitlab_time(moment: datetime) -> str:
    """GitLab's ``2021-04-28 21:50:00 +0200`` form, in +0200."""
    return moment.astimezone(timezone(timedelta(hours=2))).strftime("%Y-%m-%d %H:%M:%S %z")


def sha(n: int) -> str:
    return f"{n:040x}"


# --- GitHub -------------------------------------------------------------------------------


def github_repo(
    name: str = "Hello-World",
    owner: str = "Codertocat",
    host: str = "github.com",
    default_branch: str = "master",
) -> dict[str, Any]:
    return {
        "id": 186853002,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": name,
        "full_name": f"{owner}/{name}",
        "private": False,
        "owner": {"login": owner, "id": 21031067, "type": "User"},
        "html_url": f"https://{host}/{owner}/{name}",
        "default_branch": default_branch,
    }


def github_push(
    commits: list[tuple[str, datetime]], repo: dict[str, Any] | None = None
) -> dict[str, Any]:
    repo = repo or github_repo()
    return {
        "ref": f"refs/heads/{repo['default_branch']}",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": commits[-1][0],
        "created": False,
        "deleted": False,
        "forced": False,
        "compare": f"{repo['html_url']}/compare/6113728f27ae...{commits[-1][0][:12]}",
        "commits": [
            {
                "id": commit,
                "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
                "distinct": True,
                "message": f"Update {commit[:7]}",
                "timestamp": iso(at),
                "url": f"{repo['html_url']}/commit/{commit}",
                "author": {"name": "Codertocat", "email": "c@example.com", "username": "octo"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"},
                "added": [],
                "removed": [],
                "modified": ["README.md"],
            }
            for commit, at in commits
        ],
        "head_commit": None,
        "repository": repo,
        "pusher": {"name": "Codertocat", "email": "c@example.com"},
        "sender": {"login": "Codertocat", "id": 21031067},
    }


def github_deployment_status(
    deployment_id: int,
    head: str,
    *,
    created: datetime,
    finished: datetime,
    state: str = "success",
    environment: str = "production",
    payload: Any = None,
    repo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    repo = repo or github_repo()
    api = f"https://api.github.com/repos/{repo['full_name']}/deployments/{deployment_id}"
    return {
        "action": "created",
        "deployment_status": {
            "url": f"{api}/statuses/344458296",
            "id": 344458296,
            "state": state,
            "creator": {"login": "Codertocat", "id": 21031067},
            "description": "",
            "environment": environment,
            "target_url": "",
            "created_at": iso(finished),
            "updated_at": iso(finished),
        },
        "deployment": {
            "url": api,
            "id": deployment_id,
            "node_id": "MDEwOkRlcGxveW1lbnQzMjYxOTE3Mjg=",
            "sha": head,
            "ref": repo["default_branch"],
            "task": "deploy",
            "payload": {} if payload is None else payload,
            "original_environment": environment,
            "environment": environment,
            "description": None,
            "creator": {"login": "Codertocat", "id": 21031067},
            "created_at": iso(created),
            "updated_at": iso(finished),
        },
        "repository": repo,
        "sender": {"login": "Codertocat", "id": 21031067},
    }


def github_pull_request_merged(
    number: int, base: str, merge_sha: str, *, opened: datetime, merged: datetime
) -> dict[str, Any]:
    return {
        "action": "closed",
        "number": number,
        "pull_request": {
            "id": 279147437 + number,
            "number": number,
            "state": "closed",
            "title": "Update the README with new information.",
            "user": {"login": "Codertocat", "id": 21031067},
            "created_at": iso(opened),
            "updated_at": iso(merged),
            "closed_at": iso(merged),
            "merged_at": iso(merged),
            "merge_commit_sha": merge_sha,
            "head": {"label": "Codertocat:changes", "ref": "changes", "sha": "ec26c3e5"},
            "base": {"label": f"Codertocat:{base}", "ref": base, "sha": "f95f852b"},
            "merged": True,
        },
        "repository": github_repo(),
        "sender": {"login": "Codertocat", "id": 21031067},
    }


# --- GitLab -------------------------------------------------------------------------------


GITLAB_PROJECT = {
    "id": 15,
    "name": "Diaspora",
    "description": "",
    "web_url": "http://example.com/mike/diaspora",
    "git_ssh_url": "git@example.com:mike/diaspora.git",
    "git_http_url": "http://example.com/mike/diaspora.git",
    "namespace": "Mike",
    "path_with_namespace": "mike/diaspora",
    "default_branch": "master",
}


def gitlab_push(commits: list[tuple[str, datetime]], total: int | None = None) -> dict[str, Any]:
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": commits[-1][0],
        "ref": "refs/heads/master",
        "checkout_sha": commits[-1][0],
        "user_id": 4,
        "user_name": "John Smith",
        "user_username": "jsmith",
        "project_id": 15,
        "project": GITLAB_PROJECT,
        "commits": [
            {
                "id": commit,
                "message": f"commit {commit[:7]}",
                "title": f"commit {commit[:7]}",
                "timestamp": iso(at),
                "url": f"http://example.com/mike/diaspora/commit/{commit}",
                "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
                "added": [],
                "modified": ["README.md"],
                "removed": [],
            }
            for commit, at in commits
        ],
        "total_commits_count": len(commits) if total is None else total,
        "repository": {"name": "Diaspora", "homepage": "http://example.com/mike/diaspora"},
    }


def gitlab_merge_request(
    iid: int, target: str, merge_sha: str, *, opened: datetime, merged: datetime
) -> dict[str, Any]:
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "project": GITLAB_PROJECT,
        "object_attributes": {
            "id": 90 + iid,
            "iid": iid,
            "target_branch": target,
            "source_branch": "ms-viewport",
            "created_at": gitlab_time(opened),
            "updated_at": gitlab_time(merged),
            "merge_commit_sha": merge_sha,
            "state": "merged",
            "action": "merge",
        },
    }


def gitlab_deployment(
    deployment_id: int, status: str, at: datetime, head: str, environment: str = "production"
) -> dict[str, Any]:
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": gitlab_time(at),
        "deployment_id": deployment_id,
        "deployable_id": 796,
        "deployable_url": "http://example.com/mike/diaspora/-/jobs/796",
        "environment": environment,
        "environment_tier": "production",
        "environment_slug": environment,
        "environment_external_url": None,
        "project": GITLAB_PROJECT,
        "short_sha": head[:8],
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "commit_url": f"http://example.com/mike/diaspora/-/commit/{head}",
        "commit_title": "Add new file",
        "ref": "master",
        "sha": head,
    }


# --- PagerDuty ----------------------------------------------------------------------------


def pagerduty(
    event_type: str,
    incident_id: str,
    *,
    opened: datetime,
    occurred: datetime,
    service: str = "hello-world",
    priority: str | None = "P3",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event": {
            "id": event_id or uuid.uuid4().hex.upper()[:26],
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": iso(occurred),
            "agent": {"type": "user_reference", "id": "PLH1HKV"},
            "client": None,
            "data": {
                "id": incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                "number": 1234,
                "status": "resolved" if event_type == "incident.resolved" else "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": iso(opened),
                "title": "A little bump in the road",
                "service": {
                    "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                    "id": "PF9KMXH",
                    "self": "https://api.pagerduty.com/services/PF9KMXH",
                    "summary": service,
                    "type": "service_reference",
                },
                "urgency": "high",
                "priority": None
                if priority is None
                else {"id": "PSO75BM", "summary": priority, "type": "priority_reference"},
            },
        }
    }


# --- signed deliveries through the gateway ------------------------------------------------


async def set_secrets(cluster: Cluster, *providers: str) -> None:
    async with cluster.client() as admin:
        for provider in providers or ("github", "gitlab", "pagerduty"):
            resp = await admin.put(
                f"/v1/webhooks/{provider}/secret", json={"agency": AGENCY, "secret": SECRET}
            )
            assert resp.status_code == 200, resp.text


async def deliver_github(
    hook: httpx.AsyncClient, event: str, payload: dict[str, Any], delivery: str | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await hook.post(
        f"/v1/webhooks/github?agency={AGENCY}",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(SECRET, body),
            "Content-Type": "application/json",
        },
    )


_GITLAB_EVENT = {"push": "Push Hook", "merge_request": "Merge Request Hook"}


async def deliver_gitlab(
    hook: httpx.AsyncClient, payload: dict[str, Any], delivery: str | None = None
) -> httpx.Response:
    kind = payload["object_kind"]
    return await hook.post(
        f"/v1/webhooks/gitlab?agency={AGENCY}",
        content=json.dumps(payload).encode(),
        headers={
            "X-Gitlab-Event": _GITLAB_EVENT.get(kind, "Deployment Hook"),
            "X-Gitlab-Event-UUID": delivery or str(uuid.uuid4()),
            "X-Gitlab-Token": SECRET,
            "Content-Type": "application/json",
        },
    )


async def deliver_pagerduty(hook: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await hook.post(
        f"/v1/webhooks/pagerduty?agency={AGENCY}",
        content=body,
        headers={
            "X-PagerDuty-Signature": pagerduty_signature(SECRET, body),
            "Content-Type": "application/json",
        },
    )


def accepted(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


# --- reading what the collector stored ----------------------------------------------------


async def stored(cluster: Cluster, kind: str, event_id: str) -> dict[str, Any] | None:
    async with cluster.client() as admin:
        resp = await admin.get(f"/v1/events/{kind}/{event_id}", params={"agency": AGENCY})
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def stored_all(cluster: Cluster, kind: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"agency": AGENCY, "limit": 1000, **({"kind": kind} if kind else {})}
    async with cluster.client() as admin:
        resp = await admin.get("/v1/events", params=params)
    assert resp.status_code == 200, resp.text
    return {e["event_id"]: e for e in resp.json()["items"]}


async def stored_versions(
    cluster: Cluster, kind: str, event_id: str, versions: int
) -> dict[str, Any]:
    """The stored fact once it has ``versions`` versions (or what is stored at the timeout)."""
    found = await eventually(
        lambda: stored(cluster, kind, event_id),
        lambda e: e is not None and e["versions"] >= versions,
    )
    assert found is not None, f"{kind} {event_id} never stored"
    return found


async def dora(cluster: Cluster, **params: Any) -> dict[str, Any]:
    async with cluster.client() as admin:
        resp = await admin.get("/v1/metrics/dora", params={"agency": AGENCY, **params})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body
