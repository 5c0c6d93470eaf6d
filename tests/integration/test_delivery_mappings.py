"""Delivery mappings through the gateway on real NATS and PostgreSQL: who may read and write
them, their versions, bad input, and webhook deliveries mapped with them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gateway.state import gateway_state
from gateway.webhooks.signatures import github_signature

from .conftest import Cluster
from .test_dora_api import eventually

SECRET = "whsec-0123456789abcdef"
NOW = datetime.now(UTC).replace(microsecond=0)
MAPPING = {
    "repositories": {
        "acme/payments-monorepo": {"service": "payments", "branches": ["main", "release/*"]},
        "github.com/acme/Web-App": {"service": "web"},
    },
    "pagerduty_services": {"PF9KMXH": {"service": "payments"}},
    "environments": {"prod": "production", "Production \u2013 EU": "production"},
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _repo(full_name: str) -> dict[str, Any]:
    return {
        "name": full_name.rsplit("/", 1)[-1],
        "full_name": full_name,
        "html_url": f"https://github.com/{full_name}",
        "default_branch": "main",
    }


def _push(full_name: str, sha: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    commit = {"id": sha, "timestamp": _iso(NOW - timedelta(hours=2)), "author": {}}
    return {"ref": ref, "repository": _repo(full_name), "commits": [commit]}


def _deployed(full_name: str, deployment_id: int, environment: str) -> dict[str, Any]:
    return {
        "repository": _repo(full_name),
        "deployment": {
            "id": deployment_id,
            "sha": "d" * 40,
            "environment": environment,
            "created_at": _iso(NOW - timedelta(hours=1)),
        },
        "deployment_status": {"state": "success", "created_at": _iso(NOW - timedelta(minutes=50))},
    }


async def _key(admin: httpx.AsyncClient, agency: str, role: str) -> str:
    resp = await admin.post("/v1/keys", json={"agency": agency, "role": role})
    assert resp.status_code in (200, 201), resp.text
    key: str = resp.json()["key"]
    return key


async def _github(hook: httpx.AsyncClient, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    resp = await hook.post(
        "/v1/webhooks/github?agency=acme",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-Hub-Signature-256": github_signature(SECRET, body),
            "Content-Type": "application/json",
        },
    )
    assert resp.status_code == 202, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


async def test_admins_write_every_role_reads_and_each_put_is_a_version(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        unset = await admin.get("/v1/metrics/mappings", params={"agency": "acme"})
        viewer, policy_admin = (
            await _key(admin, "acme", "viewer"),
            await _key(admin, "acme", "policy-admin"),
        )
        first = await admin.put("/v1/metrics/mappings", params={"agency": "acme"}, json=MAPPING)
    assert unset.status_code == 200, unset.text
    assert (unset.json()["version"], unset.json()["is_default"]) == (0, True)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert first.json()["mapping"]["repositories"]["acme/payments-monorepo"]["service"] == (
        "payments"
    )
    async with cluster.client(viewer) as as_viewer:
        read = await as_viewer.get("/v1/metrics/mappings")
        denied = await as_viewer.put("/v1/metrics/mappings", json=MAPPING)
    assert read.status_code == 200
    assert read.json()["mapping"] == first.json()["mapping"]
    assert denied.status_code == 403
    assert denied.json()["code"] == "role_forbidden"
    async with cluster.client(policy_admin) as as_policy_admin:
        second = await as_policy_admin.put("/v1/metrics/mappings", json={"environments": {}})
        versions = await as_policy_admin.get("/v1/metrics/mappings/versions")
        old = await as_policy_admin.get("/v1/metrics/mappings", params={"version": 1})
        missing = await as_policy_admin.get("/v1/metrics/mappings", params={"version": 9})
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2
    assert second.json()["updated_by"] == policy_admin.split("_")[1]
    assert [v["version"] for v in versions.json()["items"]] == [2, 1]
    assert versions.json()["items"][1]["repositories"] == 2
    assert old.json()["mapping"] == first.json()["mapping"]
    assert missing.status_code == 404
    assert missing.json()["code"] == "mapping_version_not_found"


async def test_another_agency_never_reads_or_writes_it(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        assert (
            await admin.put("/v1/metrics/mappings", params={"agency": "acme"}, json=MAPPING)
        ).status_code == 200
        other_admin = await _key(admin, "globex", "admin")
    async with cluster.client(other_admin) as globex:
        read = await globex.get("/v1/metrics/mappings", params={"agency": "acme"})
        write = await globex.put("/v1/metrics/mappings", params={"agency": "acme"}, json={})
        own = await globex.get("/v1/metrics/mappings")
    assert (read.status_code, write.status_code) == (403, 403)
    assert read.json()["code"] == "agency_forbidden"
    assert (own.json()["agency"], own.json()["version"]) == ("globex", 0)
    async with cluster.client() as admin:
        acme = await admin.get("/v1/metrics/mappings", params={"agency": "acme"})
    assert acme.json()["version"] == 1  # globex's refused write made no version


async def test_bad_input_is_422_naming_the_field(cluster: Cluster) -> None:
    bad = {"repositories": {"acme/web": {"service": "web", "branches": "main"}}}
    async with cluster.client() as admin:
        wrong = await admin.put("/v1/metrics/mappings", params={"agency": "acme"}, json=bad)
        garbled = await admin.put(
            "/v1/metrics/mappings",
            params={"agency": "acme"},
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        after = await admin.get("/v1/metrics/mappings", params={"agency": "acme"})
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    problem = wrong.json()
    assert (problem["code"], problem["field"]) == (
        "invalid_mapping",
        "repositories.acme/web.branches",
    )
    assert "repositories.acme/web.branches" in problem["remediation"]
    assert garbled.status_code == 422
    assert garbled.json()["field"] == "(body)"
    assert after.json()["version"] == 0


async def test_an_org_webhook_maps_each_repository_to_its_service(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        secret = {"agency": "acme", "secret": SECRET}
        assert (await admin.put("/v1/webhooks/github/secret", json=secret)).status_code == 200
        mapped = await admin.put("/v1/metrics/mappings", params={"agency": "acme"}, json=MAPPING)
        assert mapped.status_code == 200, mapped.text
    async with cluster.client(key=None) as hook:
        payments = await _github(hook, "push", _push("acme/payments-monorepo", "1" * 40))
        release = await _github(
            hook, "push", _push("acme/payments-monorepo", "2" * 40, "refs/heads/release/7")
        )
        feature = await _github(
            hook, "push", _push("acme/payments-monorepo", "3" * 40, "refs/heads/feature")
        )
        web = await _github(hook, "push", _push("acme/web-app", "4" * 40))
        unmapped = await _github(hook, "push", _push("acme/Mailer", "5" * 40))
        deployed = await _github(hook, "deployment_status", _deployed("acme/web-app", 77, "prod"))
    assert payments["mapping_version"] == 1
    assert [(e["service"], e["service_from"]) for e in payments["events"]] == [
        ("payments", "mapping")
    ]
    assert release["accepted"] == 1
    assert (feature["ignored"], feature["accepted"]) == (True, 0)
    assert "not a counted branch" in feature["reason"]
    assert web["events"][0]["service"] == "web"
    assert (unmapped["events"][0]["service"], unmapped["events"][0]["service_from"]) == (
        "mailer",
        "payload",
    )
    event = deployed["events"][0]
    assert (event["service"], event["environment"], event["environment_from"]) == (
        "web",
        "production",
        "mapping",
    )

    async def stored() -> dict[str, Any]:
        async with cluster.client() as admin:
            resp = await admin.get("/v1/events", params={"agency": "acme"})
        return {e["event_id"]: e for e in resp.json()["items"]}

    facts = await eventually(stored, lambda s: len(s) == 5)
    assert facts["1" * 40]["service"] == "payments"
    assert facts["github-77"]["environment"] == "production"
    assert facts["github-77"]["facts"]["environment"] == "production"


async def test_a_change_applies_to_the_next_delivery_without_re_mapping_stored_facts(
    cluster: Cluster,
) -> None:
    async with cluster.client() as admin:
        secret = {"agency": "acme", "secret": SECRET}
        assert (await admin.put("/v1/webhooks/github/secret", json=secret)).status_code == 200
        await admin.put("/v1/metrics/mappings", params={"agency": "acme"}, json=MAPPING)
    cache = gateway_state.in_app(cluster.processes["gateway"].app).mappings
    async with cluster.client(key=None) as hook:
        before = await _github(hook, "push", _push("acme/web-app", "6" * 40))
        for n in range(3):  # more deliveries: the mapping is not read again
            await _github(hook, "push", _push("acme/web-app", f"{7 + n}" * 40))
        loads = cache.loads
        async with cluster.client() as admin:
            changed = {"repositories": {"acme/web-app": {"service": "storefront"}}}
            resp = await admin.put("/v1/metrics/mappings", params={"agency": "acme"}, json=changed)
            assert resp.status_code == 200, resp.text
        after = await _github(hook, "push", _push("acme/web-app", "a" * 40))
    assert loads <= 1  # at most the first delivery read it; the PUT filled the cache
    assert cache.loads == loads  # the PUT replaced the entry: no read either
    assert (before["events"][0]["service"], before["mapping_version"]) == ("web", 1)
    assert (after["events"][0]["service"], after["mapping_version"]) == ("storefront", 2)

    async def stored() -> dict[str, Any]:
        async with cluster.client() as admin:
            resp = await admin.get("/v1/events", params={"agency": "acme"})
        return {e["event_id"]: e for e in resp.json()["items"]}

    facts = await eventually(stored, lambda s: len(s) == 5)
    assert facts["6" * 40]["service"] == "web"  # not re-mapped
    assert facts["a" * 40]["service"] == "storefront"


async def test_environments_are_one_whatever_their_case(cluster: Cluster) -> None:
    finished = _iso(NOW - timedelta(hours=1))
    events = [
        {
            "type": "deployment",
            "id": f"d-{n}",
            "service": "checkout",
            "environment": environment,
            "status": "succeeded",
            "started_at": finished,
            "finished_at": finished,
        }
        for n, environment in enumerate(["Production", "production", "PRODUCTION"])
    ]
    async with cluster.client() as admin:
        sent = await admin.post("/v1/events", json={"agency": "acme", "events": events})
        assert sent.status_code == 202, sent.text

        async def report(environment: str) -> dict[str, Any]:
            resp = await admin.get(
                "/v1/metrics/dora",
                params={"agency": "acme", "service": "checkout", "environment": environment},
            )
            body: dict[str, Any] = resp.json()
            return body

        default = await eventually(
            lambda: report("production"), lambda r: r["deployment_frequency"]["count"] == 3
        )
        shouted = await report("Production")
    assert default["deployment_frequency"]["count"] == 3
    assert shouted["deployment_frequency"]["count"] == 3
    assert shouted["filter"]["environment"] == "production"


def _cortex(args: list[str], capsys: Any) -> tuple[int, str, str]:
    from cortex_sdk.cli import main

    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_cortex_dora_mappings_sets_from_yaml_shows_and_lists(
    cluster: Cluster, capsys: Any, tmp_path: Any
) -> None:
    document = tmp_path / "mapping.yaml"
    document.write_text(
        "repositories:\n"
        "  acme/payments-monorepo:\n"
        "    service: payments\n"
        "    branches: [main, 'release/*']\n"
        "environments:\n"
        "  prod: production\n"
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"repositories": {"payments": {}}}))
    conn = ["--url", cluster.gateway_url, "--api-key", cluster.admin_key, "--agency", "acme"]
    mappings = ["dora", "mappings"]
    # the CLI is synchronous: run it off the loop that serves the cluster
    code, out, _ = await asyncio.to_thread(
        _cortex, [*mappings, "set", "-f", str(document), *conn], capsys
    )
    assert (code, out.strip()) == (0, "mapping version 1 set for acme")
    code, table, _ = await asyncio.to_thread(_cortex, [*mappings, "show", *conn], capsys)
    assert code == 0
    assert "version 1" in table
    assert "payments  (branches: main, release/*)" in table
    code, raw, _ = await asyncio.to_thread(_cortex, [*mappings, "show", "--json", *conn], capsys)
    assert (code, json.loads(raw)["mapping"]["environments"]) == (0, {"prod": "production"})
    code, _, err = await asyncio.to_thread(
        _cortex, [*mappings, "set", "-f", str(bad), *conn], capsys
    )
    assert code == 2
    assert "invalid_mapping" in err
    assert "repositories.payments" in err
    code, history, _ = await asyncio.to_thread(_cortex, [*mappings, "history", *conn], capsys)
    assert code == 0
    assert history.startswith("v1 ")
