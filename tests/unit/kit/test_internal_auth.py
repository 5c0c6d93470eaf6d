"""The internal signature check: settings that refuse weak secrets, the middleware's edge cases."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from cortex_kit.internal_auth import SIGNATURE_HEADER, install_internal_auth, sign
from cortex_kit.settings import ProcessSettings
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, TEST_SECRETS_KEY, signed
from cortex_kit.web import AGENCY_HEADER


class _ServiceSettings(ProcessSettings):
    pass


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    install_internal_auth(app, _ServiceSettings(internal_secret=TEST_INTERNAL_SECRET))
    return app


def _client(auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app())
    return httpx.AsyncClient(transport=transport, base_url="http://service", auth=auth)


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("", "is not set"),
        ("short-but-random-Zq8", "shorter than 32"),
        ("changethis" * 4, "placeholder"),
        ("a" * 40, "placeholder"),
    ],
)
def test_a_missing_short_or_placeholder_secret_is_refused(secret: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        _ServiceSettings(internal_secret=secret)


def test_the_gateway_signs_but_does_not_verify() -> None:
    from gateway.settings import Settings

    gateway = Settings(internal_secret=TEST_INTERNAL_SECRET, secrets_key=TEST_SECRETS_KEY)
    assert not gateway.verifies_internal_signatures
    assert _ServiceSettings(internal_secret=TEST_INTERNAL_SECRET).verifies_internal_signatures


async def test_a_signed_request_passes_and_probes_need_no_signature() -> None:
    async with _client(auth=signed()) as client:
        assert (await client.get("/v1/things", params={"a": "1"})).status_code == 200
    async with _client() as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/v1/things")).status_code == 401


async def test_a_signature_from_the_future_is_refused() -> None:
    ahead = sign(TEST_INTERNAL_SECRET, "GET", b"/v1/things", now=time.time() + 120)
    async with _client() as client:
        resp = await client.get("/v1/things", headers={SIGNATURE_HEADER: ahead})
    assert resp.status_code == 401
    assert "window" in resp.json()["detail"]


async def test_a_repeated_agency_header_is_refused_even_when_signed() -> None:
    async with _client(auth=signed()) as client:
        resp = await client.get(
            "/v1/things", headers=[(AGENCY_HEADER, "acme"), (AGENCY_HEADER, "globex")]
        )
    assert resp.status_code == 401
    assert resp.json()["code"] == "internal_signature_invalid"


@pytest.mark.parametrize("value", ["v1:abc:" + "0" * 64, "v2:1:" + "0" * 64, "v1:1:short"])
async def test_a_malformed_signature_is_refused(value: str) -> None:
    async with _client() as client:
        resp = await client.get("/v1/things", headers={SIGNATURE_HEADER: value})
    assert resp.status_code == 401
    assert "not v1:" in resp.json()["detail"]
