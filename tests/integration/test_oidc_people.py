"""People sign in with OpenID Connect beside API keys: a JWT of the configured issuer, verified
against its JWKS (a file, or a URL the gateway fetches), names the caller's role and agency."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from .conftest import Cluster, Served, gateway_settings, serve_app

ISSUER = "https://idp.example.test"
AUDIENCE = "cortex"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def _token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
    return jwt.encode({**body, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


async def _gateway(cluster: Cluster, **oidc: Any) -> Served:
    from gateway.app import create_app

    return await serve_app(
        lambda port: create_app(
            gateway_settings(cluster, port, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, **oidc)
        )
    )


async def _get(gw: Served, token: str, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        return await client.get(f"{gw.url}{path}", params=params)


async def test_a_person_with_a_valid_token_reads_their_agency_and_no_other(
    cluster: Cluster, signing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(_jwks(signing_key)))
    gw = await _gateway(cluster, oidc_jwks_file=jwks)
    try:
        viewer = _token(signing_key, cortex_role="viewer", cortex_agency="acme")
        own = await _get(gw, viewer, "/v1/events")
        foreign = await _get(gw, viewer, "/v1/events", agency="globex")
        write = await _send_event(gw, viewer)
    finally:
        await gw.stop()

    assert own.status_code == 200, own.text
    assert foreign.status_code == 403
    assert foreign.json()["code"] == "agency_forbidden"
    assert write.status_code == 403
    assert write.json()["code"] == "role_forbidden"


async def _send_event(gw: Served, token: str) -> httpx.Response:
    event = {
        "type": "change",
        "id": "c-oidc",
        "commit_sha": "d" * 40,
        "repo": "github.com/acme/checkout",
        "service": "checkout",
        "committed_at": "2026-11-20T10:00:00Z",
    }
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        return await client.post(f"{gw.url}/v1/events", json={"events": [event]})


def _forged(signing_key: rsa.RSAPrivateKey) -> dict[str, str]:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = {"cortex_role": "viewer", "cortex_agency": "acme"}
    return {
        "expired": _token(signing_key, **good, exp=int(time.time()) - 120),
        "another audience": _token(signing_key, **good, aud="someone-else"),
        "another issuer": _token(signing_key, **good, iss="https://evil.example"),
        "another key": _token(other, **good),
        "unsigned": jwt.encode({"sub": "x", **good}, key="", algorithm="none"),
    }


async def test_tokens_that_do_not_verify_are_401_and_claims_that_say_nothing_403(
    cluster: Cluster, signing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(_jwks(signing_key)))
    gw = await _gateway(cluster, oidc_jwks_file=jwks)
    try:
        refused = {
            name: await _get(gw, t, "/v1/events") for name, t in _forged(signing_key).items()
        }
        no_role = await _get(gw, _token(signing_key, cortex_agency="acme"), "/v1/events")
    finally:
        await gw.stop()

    for name, resp in refused.items():
        assert resp.status_code == 401, (name, resp.text)
        assert resp.json()["code"] in {"invalid_bearer_token", "invalid_api_key"}, name
    assert refused["expired"].json()["code"] == "invalid_bearer_token"
    assert "expired" in refused["expired"].json()["detail"].lower()
    assert no_role.status_code == 403
    assert no_role.json()["code"] == "oidc_claims_insufficient"
    assert "cortex_role" in no_role.json()["remediation"]


def _jwks_server(document: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    fetched: list[int] = []
    app.state.fetched = fetched

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        fetched.append(1)
        return document

    return app


async def test_keys_from_a_jwks_url_are_fetched_once_and_groups_map_to_roles(
    cluster: Cluster, signing_key: rsa.RSAPrivateKey
) -> None:
    idp = await serve_app(lambda _port: _jwks_server(_jwks(signing_key)))
    gw = await _gateway(
        cluster, oidc_jwks_url=f"{idp.url}/jwks", oidc_role_map={"release-managers": "deployer"}
    )
    try:
        token = _token(signing_key, groups=["staff", "release-managers"], cortex_agency="acme")
        answers = [await _send_event(gw, token) for _ in range(3)]
    finally:
        await gw.stop()
        await idp.stop()

    assert [a.status_code for a in answers] == [202, 202, 202], answers[0].text
    assert len(idp.app.state.fetched) == 1
