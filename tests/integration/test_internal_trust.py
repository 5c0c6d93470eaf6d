"""Services accept only calls the gateway signed; probes stay open (issue 8, row 10)."""

from __future__ import annotations

import time

import httpx
import pytest

from cortex_kit.internal_auth import SIGNATURE_HEADER, sign
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER

from .conftest import Cluster
from .test_policy_api import ACME, YAML, publish_baseline

ACME_HEADERS = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "mallory"}
POLICY = "/v1/agencies/acme/policy"


def _refused(resp: httpx.Response) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "internal_signature_invalid"
    assert "gateway" in resp.json()["remediation"]


async def _policy_versions(engine: str) -> int:
    async with httpx.AsyncClient(base_url=engine, auth=signed(), headers=ACME_HEADERS) as client:
        resp = await client.get(f"{POLICY}/versions")
    assert resp.status_code == 200, resp.text
    return len(resp.json()["items"])


async def test_an_unsigned_write_to_a_service_is_refused_and_changes_nothing(
    cluster: Cluster,
) -> None:
    engine = cluster.processes["policy_engine"].url
    async with cluster.client() as admin:
        await publish_baseline(admin)
    before = await _policy_versions(engine)

    async with httpx.AsyncClient(base_url=engine, headers=ACME_HEADERS) as raw:
        _refused(await raw.put(POLICY, content=ACME, headers=YAML))

    assert await _policy_versions(engine) == before


async def test_an_unsigned_read_of_another_agencys_events_is_refused(cluster: Cluster) -> None:
    collector = cluster.processes["metrics_collector"].url
    async with httpx.AsyncClient(base_url=collector, headers={AGENCY_HEADER: "globex"}) as raw:
        _refused(await raw.get("/v1/metrics/dora"))


async def test_a_signature_under_another_secret_is_refused(cluster: Cluster) -> None:
    engine = cluster.processes["policy_engine"].url
    other = signed("another-clusters-secret-0123456789abcdef")
    async with httpx.AsyncClient(base_url=engine, headers=ACME_HEADERS, auth=other) as raw:
        _refused(await raw.get(POLICY))


async def test_an_expired_signature_is_refused(cluster: Cluster) -> None:
    engine = cluster.processes["policy_engine"].url
    stale = sign(
        TEST_INTERNAL_SECRET, "GET", POLICY.encode(), b"acme", b"mallory", now=time.time() - 120
    )
    async with httpx.AsyncClient(base_url=engine, headers=ACME_HEADERS) as raw:
        _refused(await raw.get(POLICY, headers={SIGNATURE_HEADER: stale}))


@pytest.mark.parametrize(
    ("method", "target", "agency", "principal"),
    [
        ("GET", b"/v1/agencies/acme/policy/versions", b"acme", b"mallory"),  # other path
        ("GET", b"/v1/agencies/acme/policy?version=1", b"acme", b"mallory"),  # other query
        ("GET", b"/v1/agencies/globex/policy", b"globex", b"mallory"),  # other agency
        ("GET", b"/v1/agencies/acme/policy", b"acme", b"admin"),  # other principal
        ("DELETE", b"/v1/agencies/acme/policy", b"acme", b"mallory"),  # other method
    ],
)
async def test_a_signature_replayed_on_another_request_is_refused(
    cluster: Cluster, method: str, target: bytes, agency: bytes, principal: bytes
) -> None:
    engine = cluster.processes["policy_engine"].url
    captured = sign(TEST_INTERNAL_SECRET, "GET", POLICY.encode(), b"acme", b"mallory")
    headers = {AGENCY_HEADER: agency.decode(), PRINCIPAL_HEADER: principal.decode()}
    async with httpx.AsyncClient(base_url=engine, headers=headers) as raw:
        resp = await raw.request(method, target.decode(), headers={SIGNATURE_HEADER: captured})
    _refused(resp)


async def test_a_signed_request_is_served(cluster: Cluster) -> None:
    engine = cluster.processes["policy_engine"].url
    async with cluster.client() as admin:
        await publish_baseline(admin)
    captured = sign(TEST_INTERNAL_SECRET, "GET", b"/v1/agencies/acme/policy/effective", b"acme")
    async with httpx.AsyncClient(base_url=engine, headers={AGENCY_HEADER: "acme"}) as raw:
        resp = await raw.get(
            "/v1/agencies/acme/policy/effective", headers={SIGNATURE_HEADER: captured}
        )
    assert resp.status_code == 200, resp.text


async def test_a_percent_encoded_path_is_signed_as_sent(cluster: Cluster) -> None:
    engine = cluster.processes["policy_engine"].url
    async with httpx.AsyncClient(base_url=engine, headers=ACME_HEADERS, auth=signed()) as client:
        resp = await client.get("/v1/agencies/ac%2Fme%3Fx/policy", params={"q": "a b&c"})
    assert resp.status_code != 401, resp.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_probes_and_metrics_stay_open(cluster: Cluster, path: str) -> None:
    for name in ("policy_engine", "metrics_collector"):
        async with httpx.AsyncClient(base_url=cluster.processes[name].url) as raw:
            assert (await raw.get(path)).status_code == 200


async def test_the_gateway_signs_what_it_forwards(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await publish_baseline(admin)
        resp = await admin.get("/v1/agencies/acme/policy/effective")
    assert resp.status_code == 200, resp.text
