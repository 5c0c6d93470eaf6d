"""Every creating POST that takes an API key documents Idempotency-Key and its problems; the
list comes from the route table, so a new creating route is covered without a line here."""

from __future__ import annotations

import pytest

from gateway.protection.openapi import creating_paths
from tests.unit.apps import gateway

APP = gateway()
DOCUMENT = APP.openapi()
KEYED = [
    path
    for path in creating_paths(APP)
    if "`missing_api_key`" in DOCUMENT["paths"][path]["post"]["responses"]["401"]["description"]
]


def test_the_creating_routes_are_found() -> None:
    assert {"/v1/keys", "/v1/events", "/v1/approvals"} <= set(KEYED)
    assert "/v1/authorize" not in creating_paths(APP)


@pytest.mark.parametrize("path", KEYED)
def test_a_creating_post_documents_its_idempotency_key(path: str) -> None:
    operation = DOCUMENT["paths"][path]["post"]
    assert "Idempotency-Key" in [p["name"] for p in operation.get("parameters", [])]
    described = " ".join(r.get("description", "") for r in operation["responses"].values())
    for code in ("invalid_idempotency_key", "idempotency_key_reused", "idempotency_in_progress"):
        assert f"`{code}`" in described
    assert "`rate_limited`" in operation["responses"]["429"]["description"]


def test_a_signed_webhook_delivery_takes_no_idempotency_key() -> None:
    operation = DOCUMENT["paths"]["/v1/webhooks/github"]["post"]
    assert "Idempotency-Key" not in [p["name"] for p in operation.get("parameters", [])]
