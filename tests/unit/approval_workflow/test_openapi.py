"""The approval workflow's OpenAPI: every route declares its problem answers (and the kit's),
each code is one class, and no schema offers a protobuf enum name."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from approval_workflow.app import create_app
from approval_workflow.settings import Settings
from cortex_kit.errors import EVERY_ROUTE, PROBLEM_JSON
from cortex_kit.testing.internal import TEST_INTERNAL_SECRET


def app() -> FastAPI:
    return create_app(
        Settings(
            database_url="postgresql+asyncpg://cortex@127.0.0.1:1/never_connected",
            internal_secret=TEST_INTERNAL_SECRET,
        )
    )


def codes(operation: dict[str, Any]) -> dict[str, int]:
    found = {}
    for status, response in operation["responses"].items():
        if status.isdigit() and int(status) >= 400:
            schema = response["content"][PROBLEM_JSON]["schema"]
            for one in schema.get("oneOf", [schema]):
                found[one["properties"]["code"]["const"]] = int(status)
    return found


def operations() -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in app().openapi()["paths"].items()
        for method, operation in item.items()
    }


def test_every_route_declares_the_kits_problems_and_its_own() -> None:
    ops = operations()
    assert set(ops) == {
        "POST /v1/approvals",
        "GET /v1/approvals",
        "GET /v1/approvals/{approval_id}",
        "POST /v1/approvals/decisions",
        "POST /v1/approvals/{approval_id}/decisions",
        "POST /v1/approvals/{approval_id}/uses",
        "GET /v1/approvals/notifications",
        "PUT /v1/approvals/notifications",
        "DELETE /v1/approvals/notifications",
    }
    for where, operation in ops.items():
        declared = codes(operation)
        for error in EVERY_ROUTE:
            assert declared.get(error.code) == error.status, f"{where}: {error.code}"
        assert "response_model" not in operation  # (FastAPI keys) every answer has a schema
        assert {"200", "201", "204"} & set(operation["responses"]), where
    decide = codes(ops["POST /v1/approvals/{approval_id}/decisions"])
    assert decide["already_decided"] == 409
    assert decide["approval_closed"] == 409
    assert decide["approval_expired"] == 410
    assert decide["approval_superseded"] == 410
    assert decide["self_approval_forbidden"] == 403
    assert codes(ops["GET /v1/approvals"])["invalid_cursor"] == 400
    use = codes(ops["POST /v1/approvals/{approval_id}/uses"])
    assert use["approval_use_forbidden"] == 403
    assert use["approval_agent_mismatch"] == 403
    assert use["approval_not_found"] == 404
    assert use["approval_input_mismatch"] == 409
    assert use["approval_not_granted"] == 409
    assert use["approval_used"] == 409
    assert use["approval_expired"] == 410
    assert use["approval_superseded"] == 410
    configure = codes(ops["PUT /v1/approvals/notifications"])
    assert configure["invalid_notification_url"] == 422
    assert configure["notification_url_forbidden"] == 422


def test_no_schema_offers_a_protobuf_enum_name() -> None:
    text = str(app().openapi())
    for prefix in ("SUBJECT_KIND_", "APPROVAL_OUTCOME_", "SEPARATION_"):
        assert prefix not in text
    assert "'deployment'" in text
    assert "'superseded'" in text
