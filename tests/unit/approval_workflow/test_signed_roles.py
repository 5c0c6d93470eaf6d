"""The caller's roles and team reach the approval workflow signed (cortex_kit.internal_auth):
a request whose roles or team were changed after signing is refused."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI

from cortex_kit.internal_auth import SIGNATURE_HEADER, install_internal_auth, sign
from cortex_kit.settings import ProcessSettings
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET, signed
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER, ROLES_HEADER, TEAM_HEADER


class _ServiceSettings(ProcessSettings):
    pass


def _client(auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    install_internal_auth(app, _ServiceSettings(internal_secret=TEST_INTERNAL_SECRET))
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://service", auth=auth)


IDENTITY = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "ana", ROLES_HEADER: "sre", TEAM_HEADER: "ops"}


async def test_roles_and_team_signed_by_the_signer_are_accepted() -> None:
    async with _client(signed()) as client:
        assert (await client.get("/v1/things", headers=IDENTITY)).status_code == 200


async def test_roles_or_team_changed_after_signing_are_refused() -> None:
    signature = sign(
        TEST_INTERNAL_SECRET, "GET", b"/v1/things", b"acme", b"ana", roles=b"sre", team=b"ops"
    )
    async with _client() as client:
        same = await client.get("/v1/things", headers={**IDENTITY, SIGNATURE_HEADER: signature})
        assert same.status_code == 200
        for name, forged in ((ROLES_HEADER, "sre,security"), (TEAM_HEADER, "payments")):
            headers = {**IDENTITY, name: forged, SIGNATURE_HEADER: signature}
            resp = await client.get("/v1/things", headers=headers)
            assert resp.status_code == 401, name
            assert resp.json()["code"] == "internal_signature_invalid"


async def test_a_signature_without_roles_is_unchanged_and_does_not_carry_added_roles() -> None:
    before = sign(TEST_INTERNAL_SECRET, "GET", b"/v1/things", b"acme", b"ana", now=time.time())
    headers = {AGENCY_HEADER: "acme", PRINCIPAL_HEADER: "ana", SIGNATURE_HEADER: before}
    async with _client() as client:
        assert (await client.get("/v1/things", headers=headers)).status_code == 200
        added = {**headers, ROLES_HEADER: "sre"}
        assert (await client.get("/v1/things", headers=added)).status_code == 401


async def test_a_repeated_roles_header_is_refused() -> None:
    async with _client(signed()) as client:
        headers = [*IDENTITY.items(), (ROLES_HEADER, "admin")]
        resp = await client.get("/v1/things", headers=headers)
        assert resp.status_code == 401
