"""What a hostile caller found at the gateway: org writes by agency admins, agencies named
twice, ids with control characters or `#`/`?`, huge bodies, 405s without `Allow`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from .conftest import Cluster
from .test_auth import create_key
from .test_events_flow import CHANGE, wait_for
from .test_policy_api import ORG, YAML

SECRET = "whsec-0123456789abcdef"


def _problem(resp: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = resp.json()
    assert body["code"] == code
    assert body["remediation"]
    return body


async def _org_versions(admin: httpx.AsyncClient) -> int:
    resp = await admin.get("/v1/org/policy/versions")
    assert resp.status_code == 200, resp.text
    return len(resp.json()["items"])


async def test_only_org_wide_admins_write_the_org_baseline(cluster: Cluster) -> None:
    acme_admin = await create_key(cluster, "acme", "admin")
    acme_policy_admin = await create_key(cluster, "acme", "policy-admin")
    async with cluster.client() as org_admin:
        assert (await org_admin.put("/v1/org/policy", content=ORG, headers=YAML)).status_code == 201
        versions = await _org_versions(org_admin)
        async with cluster.client(key=acme_admin) as acme:
            put = await acme.put("/v1/org/policy", content=ORG + "\n# acme's\n", headers=YAML)
            _problem(put, 403, "org_admin_required")
            back = await acme.post("/v1/org/policy/rollback", json={"to_version": 1})
            _problem(back, 403, "org_admin_required")
            # reading the baseline every agency inherits stays allowed
            assert (await acme.get("/v1/org/policy")).status_code == 200
        async with cluster.client(key=acme_policy_admin) as acme:
            put = await acme.put("/v1/org/policy", content=ORG, headers=YAML)
            _problem(put, 403, "role_forbidden")
            _problem(await acme.post("/v1/org/policy/rollback", json={}), 403, "role_forbidden")
        assert await _org_versions(org_admin) == versions


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/webhooks/github/secret?agency=globex", {"secret": SECRET}),
        ("PUT", "/v1/webhooks/github/secret?agency=acme&agency=globex", {"secret": SECRET}),
        ("PUT", "/v1/webhooks/github/secret?agency=globex", {"agency": "acme", "secret": SECRET}),
        ("GET", "/v1/agencies/acme/policy?agency=globex", None),
        ("POST", "/v1/events?agency=globex", {"agency": "acme", "events": [CHANGE]}),
        ("POST", "/v1/events?agency=globex", {"events": [CHANGE]}),
    ],
)
async def test_a_second_agency_is_refused_never_silently_resolved(
    cluster: Cluster, method: str, path: str, body: dict[str, object] | None
) -> None:
    acme_admin = await create_key(cluster, "acme", "admin")
    async with cluster.client(key=acme_admin) as acme:
        first = await acme.put("/v1/webhooks/github/secret", json={"secret": "x" * 16 + "-acme"})
        assert first.status_code == 200
        before = (await acme.get("/v1/webhooks/github/secret")).json()
        resp = await acme.request(method, path, json=body)
        assert resp.status_code in (403, 422), resp.text
        assert resp.json()["code"] in ("agency_forbidden", "agency_conflict")
        # acme's own secret was not overwritten
        assert (await acme.get("/v1/webhooks/github/secret")).json() == before


async def test_org_wide_keys_may_not_name_two_agencies_either(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        resp = await admin.put(
            "/v1/webhooks/github/secret?agency=globex", json={"agency": "acme", "secret": SECRET}
        )
        body = _problem(resp, 422, "agency_conflict")
        assert body["agencies"] == ["acme", "globex"]
        status = await admin.get("/v1/webhooks/github/secret", params={"agency": "acme"})
        assert status.json()["configured"] is False


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events/change/x%00y",
        "/v1/events/change/x%0Ay",
        "/v1/decisions/%01",
        "/v1/keys/%00",
        "/v1/agencies/acme/policy/diff%7F",
    ],
)
async def test_control_characters_in_paths_are_a_400(cluster: Cluster, path: str) -> None:
    async with cluster.client() as admin:
        resp = await admin.request("DELETE" if "/keys/" in path else "GET", path)
    _problem(resp, 400, "invalid_path")


async def test_integers_beyond_64_bits_are_a_422(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        assert (await admin.put("/v1/org/policy", content=ORG, headers=YAML)).status_code == 201
        resp = await admin.get("/v1/org/policy", params={"version": "9" * 20})
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/keys", {"agency": "acme", "role": "viewer", "name": "bad\u0000name"}),
        ("/v1/keys", {"agency": "ac\u0000me", "role": "viewer"}),
        ("/v1/webhooks/github/secret", {"agency": "acme", "secret": "s" * 16 + "\u0000"}),
    ],
)
async def test_nul_in_body_strings_is_a_422_and_nothing_is_stored(
    cluster: Cluster, path: str, body: dict[str, str]
) -> None:
    async with cluster.client() as admin:
        keys_before = (await admin.get("/v1/keys")).json()["items"]
        resp = await admin.request("PUT" if "secret" in path else "POST", path, json=body)
        assert resp.status_code == 422, resp.text
        assert "\u0000" not in resp.text
        assert "\\u0000" not in resp.text
        assert (await admin.get("/v1/keys")).json()["items"] == keys_before
        status = await admin.get("/v1/webhooks/github/secret", params={"agency": "acme"})
        assert status.json()["configured"] is False


async def test_ids_with_hash_and_question_mark_are_read_back(cluster: Cluster) -> None:
    event = {**CHANGE, "id": "has#hash?q=1&agency=globex"}
    async with cluster.client() as admin:
        sent = await admin.post("/v1/events", json={"agency": "acme", "events": [event]})
        assert sent.status_code == 202, sent.text
        resp = await wait_for(
            admin, "/v1/events/change/has%23hash%3Fq%3D1%26agency%3Dglobex", agency="acme"
        )
    assert resp.status_code == 200, resp.text
    assert resp.json()["event_id"] == event["id"]


async def test_a_query_cannot_be_smuggled_in_a_path_id(cluster: Cluster) -> None:
    globex_event = {**CHANGE, "id": "secret-change"}
    acme = await create_key(cluster, "acme", "viewer")
    async with cluster.client() as admin:
        sent = await admin.post("/v1/events", json={"agency": "globex", "events": [globex_event]})
        assert sent.status_code == 202
        assert (
            await wait_for(admin, "/v1/events/change/secret-change", agency="globex")
        ).is_success
    async with cluster.client(key=acme) as viewer:
        resp = await viewer.get("/v1/events/change/secret-change%3Fagency%3Dglobex")
    assert resp.status_code == 404, resp.text


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


async def _streamed(total: int) -> AsyncIterator[bytes]:
    for chunk in _chunks(total):
        yield chunk


async def test_bodies_over_the_route_limit_are_a_413(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        declared = await admin.post(
            "/v1/keys", content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers=YAML
        )
        body = _problem(declared, 413, "payload_too_large")
        assert body["limit_bytes"] == 1024 * 1024
        # no Content-Length: counted while it streams in
        streamed = await admin.post(
            "/v1/events",
            content=_streamed(6 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        )
        body = _problem(streamed, 413, "payload_too_large")
        assert body["limit_bytes"] == 4 * 1024 * 1024
        # a large but allowed events body still passes the guard (and fails on its content)
        ok_size = await admin.post(
            "/v1/events", content=b" " * (2 * 1024 * 1024), headers={"Content-Type": "x"}
        )
        assert ok_size.status_code == 422


async def test_405_names_every_allowed_method(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        resp = await admin.patch("/v1/webhooks/github/secret", json={})
    _problem(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "DELETE, GET, PUT"
