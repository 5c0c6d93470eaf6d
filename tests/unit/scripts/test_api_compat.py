"""The public-contract check (scripts/api_compat.py): what it calls breaking, and what not."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

from api_compat import openapi_breaks  # noqa: E402

Doc = dict[str, Any]


def _document() -> Doc:
    item = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["running", "succeeded"]},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["id", "status"],
    }
    create = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "size": {"type": "integer"},
            "mode": {"type": "string", "enum": ["fast", "safe"]},
        },
        "required": ["name"],
    }
    return {
        "paths": {
            "/v1/things": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Create"}}
                        },
                    },
                    "responses": {
                        "201": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            }
                        }
                    },
                },
                "get": {
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Item"},
                                    }
                                }
                            }
                        }
                    },
                },
            }
        },
        "components": {"schemas": {"Item": item, "Create": create}},
    }


def test_the_same_document_has_no_breaks() -> None:
    assert openapi_breaks(_document(), _document()) == []


def test_additions_a_client_can_ignore_are_not_breaks() -> None:
    new = _document()
    schemas = new["components"]["schemas"]
    schemas["Item"]["properties"]["extra"] = {"type": "string"}
    schemas["Create"]["properties"]["optional"] = {"type": "boolean"}
    schemas["Create"]["properties"]["mode"]["enum"].append("careful")
    new["paths"]["/v1/others"] = {"get": {"responses": {"200": {}}}}
    new["paths"]["/v1/things"]["get"]["parameters"].append(
        {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}}
    )

    assert openapi_breaks(_document(), new) == []


def _changed(change: str) -> Doc:
    new = _document()
    schemas = new["components"]["schemas"]
    things = new["paths"]["/v1/things"]
    if change == "path removed":
        del new["paths"]["/v1/things"]
    elif change == "method removed":
        del things["get"]
    elif change == "status changed":
        things["post"]["responses"] = {"200": things["post"]["responses"]["201"]}
    elif change == "field newly required":
        schemas["Create"]["required"].append("size")
    elif change == "request field dropped":
        del schemas["Create"]["properties"]["size"]
    elif change == "request value dropped":
        schemas["Create"]["properties"]["mode"]["enum"] = ["fast"]
    elif change == "request type narrowed":
        schemas["Create"]["properties"]["size"] = {"type": "string"}
    elif change == "answered field removed":
        del schemas["Item"]["properties"]["note"]
    elif change == "answered field optional":
        schemas["Item"]["required"] = ["id"]
    elif change == "answer enum widened":
        schemas["Item"]["properties"]["status"]["enum"].append("paused")
    elif change == "nested answer type changed":
        schemas["Item"]["properties"]["tags"]["items"] = {"type": "integer"}
    elif change == "parameter newly required":
        things["get"]["parameters"][0]["required"] = True
    return new


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("path removed", "GET /v1/things: removed"),
        ("method removed", "GET /v1/things: removed"),
        ("status changed", "POST /v1/things: answers ['200'] instead of ['201']"),
        ("field newly required", "POST /v1/things body.size: newly required"),
        ("request field dropped", "POST /v1/things body.size: no longer accepted"),
        ("request value dropped", "POST /v1/things body.mode: no longer accepts ['safe']"),
        (
            "request type narrowed",
            "POST /v1/things body.size: accepts ['string'] instead of ['integer']",
        ),
        ("answered field removed", "POST /v1/things 201.note: no longer answered"),
        ("answered field optional", "POST /v1/things 201.status: no longer always answered"),
        ("answer enum widened", "POST /v1/things 201.status: may answer the new values ['paused']"),
        (
            "nested answer type changed",
            "GET /v1/things 200[].tags[]: may answer ['integer'] instead of ['string']",
        ),
        ("parameter newly required", "GET /v1/things: parameter limit (query) newly required"),
    ],
)
def test_each_kind_of_break_is_named(change: str, expected: str) -> None:
    breaks = openapi_breaks(_document(), _changed(change))

    assert expected in breaks


def test_the_real_public_document_compares_clean_with_itself() -> None:
    import json

    document = json.loads((ROOT / "docs" / "api" / "openapi.json").read_text())
    shrunk = copy.deepcopy(document)
    path = sorted(shrunk["paths"])[0]
    del shrunk["paths"][path]

    assert openapi_breaks(document, document) == []
    assert any(
        line.startswith(f"{m.upper()} {path}: removed")
        for m in document["paths"][path]
        for line in openapi_breaks(document, shrunk)
    )
