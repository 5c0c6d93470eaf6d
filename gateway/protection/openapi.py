"""The ``Idempotency-Key`` header and its problems in the OpenAPI document, on every creating
POST that takes an API key (read from the route table, like the middleware)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from cortex_kit.errors import PROBLEM_JSON, problem_responses
from gateway.protection.errors import IDEMPOTENT_ROUTE
from gateway.protection.middleware import CREATED

HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A unique token per logical request (1 to 255 visible ASCII characters): "
    "a retry with the same key and body gets the first answer again, for 24 h.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def creating_paths(app: FastAPI) -> list[str]:
    return [
        route.path_format
        for route in iter_route_contexts(app.routes)
        if "POST" in (route.methods or ())
        and getattr(route, "status_code", None) in CREATED
        and isinstance(route.path_format, str)
    ]


def add_idempotency(document: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    extra = problem_responses(*IDEMPOTENT_ROUTE)
    for path in paths:
        operation = document["paths"].get(path, {}).get("post")
        unauthorized = operation and operation["responses"].get("401", {}).get("description", "")
        if operation is None or "`missing_api_key`" not in (unauthorized or ""):
            continue  # no API key (a signed webhook delivery): no Idempotency-Key either
        operation.setdefault("parameters", []).append(HEADER)
        for status, answer in extra.items():
            _merge(operation["responses"], str(status), answer)
    return document


def _merge(responses: dict[str, Any], status: str, answer: dict[str, Any]) -> None:
    if status not in responses:
        responses[status] = answer
        return
    held = responses[status]
    schema = held["content"][PROBLEM_JSON]["schema"]
    known = schema.get("oneOf", [schema])
    titles = {s.get("title") for s in known}
    new = answer["content"][PROBLEM_JSON]["schema"]
    added = [s for s in new.get("oneOf", [new]) if s.get("title") not in titles]
    if not added:
        return
    held["content"][PROBLEM_JSON]["schema"] = {"oneOf": [*known, *added]}
    held["description"] = "; ".join(
        [
            held["description"],
            *(f"`{s['properties']['code']['const']}`: {s['description']}" for s in added),
        ]
    )


def document_idempotency(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with the header and problems added (once)."""
    inner = app.openapi
    done: list[int] = []

    def openapi() -> dict[str, Any]:
        document = inner()
        if not done:
            add_idempotency(document, creating_paths(app))
            done.append(1)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
