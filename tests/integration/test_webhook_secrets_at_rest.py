"""Webhook secrets are stored encrypted under CORTEX_GATEWAY_SECRETS_KEY (issue 8, row 10)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from cortex_kit.db import Database
from cortex_kit.testing.internal import TEST_SECRETS_KEY

from .conftest import Cluster, _common, serve_app
from .test_webhooks import PUSH, SECRET, _github, _set_secret

OTHER_KEY = base64.urlsafe_b64encode(b"another-gateway-key-32-bytes!!!!").decode()


async def _rows(cluster: Cluster) -> list[dict[str, Any]]:
    db = Database(cluster.database_url)
    try:
        async with db.engine.connect() as conn:
            result = await conn.execute(text("SELECT * FROM gateway.webhook_secrets"))
            return [dict(row) for row in result.mappings()]
    finally:
        await db.dispose()


@asynccontextmanager
async def _gateway(cluster: Cluster, secrets_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another gateway replica on the same database, with its own secrets key."""
    from gateway.app import create_app
    from gateway.settings import Settings

    served = await serve_app(
        lambda port: create_app(
            Settings(
                **{**_common(cluster, port), "secrets_key": secrets_key},
                policy_engine_url=cluster.processes["policy_engine"].url,
                metrics_collector_url=cluster.processes["metrics_collector"].url,
            )
        )
    )
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            yield client
    finally:
        await served.stop()


async def test_the_stored_secret_is_ciphertext_only(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")

    [row] = await _rows(cluster)
    assert row["plaintext"] is None
    assert SECRET.encode() not in bytes(row["ciphertext"])
    assert SECRET not in repr(row)


async def test_the_encrypted_secret_still_verifies_deliveries(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    async with cluster.client(key=None) as anonymous:
        assert (await _github(anonymous, "push", PUSH)).status_code == 202
        assert (await _github(anonymous, "push", PUSH, signature="sha256=00")).status_code == 401


async def test_a_gateway_with_another_key_fails_closed_with_a_clear_error(
    cluster: Cluster,
) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    async with _gateway(cluster, OTHER_KEY) as other:
        resp = await _github(other, "push", PUSH)
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "webhook_secret_unreadable"
    assert "CORTEX_GATEWAY_SECRETS_KEY" in resp.json()["remediation"]
    db = Database(cluster.database_url)
    try:
        async with db.engine.connect() as conn:
            staged = await conn.scalar(text("SELECT count(*) FROM gateway.outbox"))
    finally:
        await db.dispose()
    assert staged == 0


async def test_a_plaintext_row_of_an_older_gateway_is_encrypted_at_start(
    cluster: Cluster,
) -> None:
    db = Database(cluster.database_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO gateway.webhook_secrets (agency, provider, plaintext) "
                    "VALUES ('acme', 'github', :secret)"
                ),
                {"secret": SECRET},
            )
    finally:
        await db.dispose()

    async with _gateway(cluster, TEST_SECRETS_KEY) as restarted:
        [row] = await _rows(cluster)
        assert (row["plaintext"], SECRET.encode() in bytes(row["ciphertext"])) == (None, False)
        assert (await _github(restarted, "push", PUSH)).status_code == 202


async def test_a_rotated_key_re_encrypts_and_the_old_key_can_then_go(cluster: Cluster) -> None:
    async with cluster.client() as admin:
        await _set_secret(admin, "github")
    async with _gateway(cluster, f"{OTHER_KEY},{TEST_SECRETS_KEY}"):
        pass  # the start re-encrypts every row under the first key
    async with _gateway(cluster, OTHER_KEY) as rotated:
        assert (await _github(rotated, "push", PUSH)).status_code == 202


@pytest.mark.parametrize("key", ["", "not-a-fernet-key", f"{TEST_SECRETS_KEY},short"])
def test_an_unusable_secrets_key_is_refused_at_start(key: str) -> None:
    from gateway.settings import Settings

    with pytest.raises(ValidationError, match="CORTEX_GATEWAY_SECRETS_KEY"):
        Settings(internal_secret="x" * 8 + "abcdefghijklmnopqrstuvwxyz", secrets_key=key)
