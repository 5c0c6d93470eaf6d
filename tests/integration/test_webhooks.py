"""Webhooks through the gateway on real NATS and PostgreSQL: signatures, mapping, metrics."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gateway.webhooks.signatures import github_signature, pagerduty_signature

from .conftest import Cluster
from .test_dora_api import eventually

SECRET = "whsec-0123456789abcdef"
SHA = "c" * 40
REPO = {"name": "checkout", "full_name": "acme/checkout", "default_branch": "main"}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


NOW = datetime.now(UTC).replace(microsecond=0)
PUSH = {
    "ref": "refs/heads/main",
    "repository": REPO,
    "commits": [{"id": SHA, "timestamp": _iso(NOW - timedelta(hours=3)), "author": {}}],
}
DEPLOYED = {
    "repository": REPO,
    "deployment": {
        "id": 99,
        "sha": SHA,
        "environment": "production",
        "created_at": _iso(NOW - timedelta(hours=1)),
    },
    "deployment_status": {"state": "success", "created_at": _iso(NOW - timedelta(minutes=50))},
}


def _pagerduty(event_type: str) -> dict[str, Any]:
    return {
        "event": {
            "id": f"ev-{event_type}",
            "event_type": event_type,
            "occurred_at": _iso(NOW - timedelta(minutes=10)),
            "data": {
                "id": "PINC1",
                "created_at": _iso(NOW - timedelta(minutes=40)),
                "service": {"summary": "Checkout"},
                "urgency": "high",
            },
        }
    }


async def _set_secret(client: httpx.AsyncClient, provider: str, agency: str = "acme") -> None:
    resp = await client.put(
        f"/v1/webhooks/{provider}/secret", json={"agency": agency, "secret": SECRET}
    )
    assert resp.status_code == 200, resp.text


async def _github(
    client: httpx.AsyncClient, event: str, payload: dict[str, Any], signature: str | None = ""
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if signature == "":
        signature = github_signature(SECRET, body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return await client.post("/v1/webhooks/github?agency=acme", content=body, headers=headers)


async def _stored(cluster: Cluster) -> list[dict[str, Any]]:
    async with cluster.client() as admin:
        resp = await admin.get("/v1/events", params={"agency": "acme"})
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def test_secrets_are_set_by_admins_and_never_shown(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
        viewer_key = await admin.post("/v1/keys", json={"agency": "acme", "role": "viewer"})
        status = await admin.get("/v1/webhooks/github/secret", params={"agency": "acme"})
        unset = await admin.get("/v1/webhooks/gitlab/secret", params={"agency": "acme"})
    assert status.status_code == 200
    assert status.json()["configured"] is True
    assert SECRET not in status.text
    assert unset.json()["configured"] is False
    async with cluster.client(viewer_key.json()["key"]) as viewer:
        denied = await viewer.put("/v1/webhooks/github/secret", json={"secret": SECRET})
    assert denied.status_code == 403


async def test_signed_github_deliveries_become_changes_deployments_and_metrics(
    cluster: Cluster,
) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    async with cluster.client(key=None) as hook:  # no API key: the signature authenticates
        pushed = await _github(hook, "push", PUSH)
        deployed = await _github(hook, "deployment_status", DEPLOYED)
    assert pushed.status_code == 202, pushed.text
    assert (pushed.json()["accepted"], pushed.json()["ignored"]) == (1, False)
    assert deployed.status_code == 202, deployed.text
    assert deployed.json()["events"][0]["id"] == "github-99"

    async def report() -> dict[str, Any]:
        async with cluster.client() as admin:
            resp = await admin.get(
                "/v1/metrics/dora", params={"agency": "acme", "service": "checkout"}
            )
        body: dict[str, Any] = resp.json()
        return body

    r = await eventually(report, lambda r: r["lead_time"]["n"] == 1)
    assert r["deployment_frequency"]["count"] == 1
    assert r["lead_time"]["p50_s"] == 7800.0  # committed 3 h ago, deployed 50 min ago
    stored = {e["event_id"]: e for e in await _stored(cluster)}
    assert stored["github-99"]["source"] == "webhook-github"
    assert stored["github-99"]["facts"]["source"] == "webhook"


async def test_bad_or_missing_signatures_are_401_and_store_nothing(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    async with cluster.client(key=None) as hook:
        wrong = await _github(hook, "push", PUSH, github_signature("not-the-secret-at-all", b"{}"))
        missing = await _github(hook, "push", PUSH, None)
        tampered_body = json.dumps({**PUSH, "ref": "refs/heads/main "}).encode()
        tampered = await hook.post(
            "/v1/webhooks/github?agency=acme",
            content=tampered_body,
            headers={
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": github_signature(SECRET, json.dumps(PUSH).encode()),
            },
        )
        unconfigured = await hook.post(
            "/v1/webhooks/pagerduty?agency=acme", content=b"{}", headers={}
        )
    for resp, code in [
        (wrong, "invalid_signature"),
        (missing, "missing_signature"),
        (tampered, "invalid_signature"),
        (unconfigured, "missing_signature"),
    ]:
        assert resp.status_code == 401, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == code
        assert resp.json()["remediation"]
    await asyncio.sleep(1.0)  # long enough for anything staged to reach the collector
    assert await _stored(cluster) == []


async def test_unauthenticated_answers_do_not_tell_whether_a_secret_is_set(
    cluster: Cluster,
) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github", agency="acme")  # globex has none
    body = json.dumps(PUSH).encode()
    answers: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    async with cluster.client(key=None) as hook:
        for agency in ("acme", "globex"):
            for signature in (None, github_signature("guessed-secret", body)):
                headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
                if signature:
                    headers["X-Hub-Signature-256"] = signature
                resp = await hook.post(
                    f"/v1/webhooks/github?agency={agency}", content=body, headers=headers
                )
                problem = resp.json()
                problem["detail"] = problem["detail"].replace(agency, "<agency>")
                problem["remediation"] = problem["remediation"].replace(agency, "<agency>")
                answers.setdefault(agency, []).append((resp.status_code, problem))
    assert answers["acme"] == answers["globex"]
    assert [status for status, _ in answers["acme"]] == [401, 401]
    assert [p["code"] for _, p in answers["acme"]] == ["missing_signature", "invalid_signature"]


async def test_gitlab_token_must_match_the_secret(cluster: Cluster) -> None:
    payload = {
        "object_kind": "deployment",
        "status": "failed",
        "status_changed_at": "2025-03-03 12:20:00 +0200",
        "deployment_id": 15,
        "environment": "production",
        "project": {"path_with_namespace": "acme/checkout", "web_url": "https://gl/acme/checkout"},
    }
    async with cluster.client() as admin:
        await _set_secret(admin, "gitlab")
    async with cluster.client(key=None) as hook:
        url = "/v1/webhooks/gitlab?agency=acme"
        bad = await hook.post(url, json=payload, headers={"X-Gitlab-Token": "guess-guess-guess"})
        good = await hook.post(url, json=payload, headers={"X-Gitlab-Token": SECRET})
    assert bad.status_code == 401
    assert good.status_code == 202, good.text
    assert good.json()["events"][0]["id"] == "gitlab-15"


async def test_pagerduty_trigger_and_resolve_make_one_resolved_incident(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "pagerduty")
    async with cluster.client(key=None) as hook:
        for event_type in ("incident.resolved", "incident.triggered"):  # out of order
            body = json.dumps(_pagerduty(event_type)).encode()
            resp = await hook.post(
                "/v1/webhooks/pagerduty?agency=acme&service=checkout",
                content=body,
                headers={"X-PagerDuty-Signature": f"v1=00,{pagerduty_signature(SECRET, body)}"},
            )
            assert resp.status_code == 202, resp.text

    async def incident() -> dict[str, Any] | None:
        async with cluster.client() as admin:
            resp = await admin.get("/v1/events/incident/pagerduty-PINC1", params={"agency": "acme"})
        return resp.json() if resp.status_code == 200 else None

    stored = await eventually(incident, lambda e: e is not None and e["versions"] == 2)
    assert stored["service"] == "checkout"
    assert stored["facts"]["resolved_at"] == _iso(NOW - timedelta(minutes=10))


async def test_unsupported_events_are_accepted_and_ignored(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    async with cluster.client(key=None) as hook:
        resp = await _github(hook, "issues", {"action": "opened"})
        feature = await _github(hook, "push", {**PUSH, "ref": "refs/heads/feature"})
    assert resp.status_code == 202
    assert (resp.json()["ignored"], resp.json()["accepted"]) == (True, 0)
    assert resp.json()["reason"]
    assert feature.json()["ignored"] is True


# --- real tools' payloads (issue 11) --------------------------------------------------------

HELLO = {
    "name": "Hello-World",
    "full_name": "Codertocat/Hello-World",
    "html_url": "https://github.com/Codertocat/Hello-World",
    "default_branch": "master",
}
SHA_1, SHA_2 = "1" * 40, "2" * 40


def _deployment_status(deployment_id: int, sha: str, state: str = "success") -> dict[str, Any]:
    return {
        "repository": HELLO,
        "deployment": {
            "id": deployment_id,
            "sha": sha,
            "ref": "master",
            "payload": {},
            "environment": "production",
            "created_at": _iso(NOW - timedelta(hours=1)),
        },
        "deployment_status": {"state": state, "created_at": _iso(NOW - timedelta(minutes=50))},
    }


async def _pagerduty_post(hook: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await hook.post(
        "/v1/webhooks/pagerduty?agency=acme",
        content=body,
        headers={"X-PagerDuty-Signature": pagerduty_signature(SECRET, body)},
    )


async def test_a_github_repo_and_a_pagerduty_service_are_one_service_and_sha_is_the_head(
    cluster: Cluster,
) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
        await _set_secret(admin, "pagerduty")
    push = {
        "ref": "refs/heads/master",
        "repository": HELLO,
        "commits": [
            {"id": SHA_1, "timestamp": _iso(NOW - timedelta(hours=3)), "author": {}},
            {"id": SHA_2, "timestamp": _iso(NOW - timedelta(hours=2)), "author": {}},
        ],
    }
    incident = _pagerduty("incident.triggered")
    incident["event"]["data"]["service"]["summary"] = "Hello World"
    incident["event"]["data"]["id"] = "PHELLO"
    async with cluster.client(key=None) as hook:
        assert (await _github(hook, "push", push)).status_code == 202
        # A pinned release of the first commit only: the second waits for the next one.
        deployed = await _github(hook, "deployment_status", _deployment_status(501, SHA_1))
        assert deployed.status_code == 202, deployed.text
        assert (await _pagerduty_post(hook, incident)).status_code == 202

    async def report() -> dict[str, Any]:
        async with cluster.client() as admin:
            resp = await admin.get(
                "/v1/metrics/dora", params={"agency": "acme", "service": "hello-world"}
            )
        body: dict[str, Any] = resp.json()
        return body

    r = await eventually(report, lambda r: r["change_failure_rate"]["failed"] == 1)
    assert r["change_failure_rate"]["failed"] == 1  # the incident links to the deployment
    assert r["lead_time"]["n"] == 1  # SHA_1 only
    assert r["lead_time"]["p50_s"] == 7800.0  # committed 3 h ago, deployed 50 min ago


async def test_a_redelivered_webhook_writes_no_new_version(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    payload = _deployment_status(502, SHA_1)
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "deployment_status",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": github_signature(SECRET, body),
        "Content-Type": "application/json",
    }
    async with cluster.client(key=None) as hook:
        first = await hook.post("/v1/webhooks/github?agency=acme", content=body, headers=headers)
        again = await hook.post("/v1/webhooks/github?agency=acme", content=body, headers=headers)
        other = await _github(hook, "deployment_status", _deployment_status(502, SHA_1, "failure"))
    assert first.status_code == again.status_code == 202, again.text
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert other.status_code == 202

    async def deployment() -> dict[str, Any] | None:
        async with cluster.client() as admin:
            resp = await admin.get("/v1/events/deployment/github-502", params={"agency": "acme"})
        return resp.json() if resp.status_code == 200 else None

    stored = await eventually(deployment, lambda e: e is not None and e["versions"] == 2)
    await asyncio.sleep(0.3)  # a redelivered version would have arrived by now
    stored = await deployment()
    assert stored is not None
    assert stored["versions"] == 2  # the delivery once, and the other status


async def test_a_reopened_pagerduty_incident_is_open_again(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "pagerduty")
    resolved = _pagerduty("incident.resolved")
    reopened = _pagerduty("incident.reopened")
    reopened["event"]["id"] = "ev-reopened"
    reopened["event"]["occurred_at"] = _iso(NOW - timedelta(minutes=5))
    async with cluster.client(key=None) as hook:
        for payload in (reopened, _pagerduty("incident.triggered"), resolved):
            assert (await _pagerduty_post(hook, payload)).status_code == 202

    async def incident() -> dict[str, Any] | None:
        async with cluster.client() as admin:
            resp = await admin.get("/v1/events/incident/pagerduty-PINC1", params={"agency": "acme"})
        return resp.json() if resp.status_code == 200 else None

    stored = await eventually(incident, lambda e: e is not None and e["versions"] == 3)
    assert stored["versions"] == 3
    assert "resolved_at" not in stored["facts"]
    assert stored["facts"]["reopened_at"] == _iso(NOW - timedelta(minutes=5))
