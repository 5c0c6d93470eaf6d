"""The gateway's `/openapi.json` with the answers of the routes it relays.

The gateway relays most routes byte for byte to the service that owns them; its route
declarations name the problems it answers itself, not the service's answer. The success
schemas of those routes are taken from the services' own documents at build time
(`scripts/gen_gateway_openapi.py` writes `openapi_relayed.json`; `make lint` checks it is
fresh) and merged here, so a client generated from the gateway's document is typed end to end.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cortex_kit.errors import PROBLEM_JSON

RELAYED = Path(__file__).with_name("openapi_relayed.json")


@cache
def _relayed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RELAYED.read_text())
    return loaded


def merge_relayed(document: dict[str, Any], relayed: dict[str, Any]) -> dict[str, Any]:
    """``document`` with each relayed route's success answer and the schemas it references."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in relayed["schemas"].items():
        components.setdefault(name, schema)
    for where, answer in relayed["responses"].items():
        method, path = where.split(" ", 1)
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue
        responses = operation["responses"]
        description = "Successful Response"
        for status in [s for s in responses if s.startswith("2")]:
            description = responses.pop(status).get("description", description)
        for status, schema in answer["answers"].items():
            responses[status] = {
                "description": f"{description} (relayed from {', '.join(answer['services'])})",
                "content": {"application/json": {"schema": schema}},
            }
        _merge_request(operation, answer.get("request", {}))
        _merge_problems(responses, answer.get("problems", {}))
    return document


def _code(schema: dict[str, Any]) -> str:
    return str(schema["properties"]["code"]["const"])


def _merge_problems(responses: dict[str, Any], problems: dict[str, list[dict[str, Any]]]) -> None:
    """The service's problem answers beside the gateway's own, each code once per status."""
    for status, schemas in problems.items():
        response = responses.setdefault(
            status, {"description": "", "content": {PROBLEM_JSON: {"schema": {"oneOf": []}}}}
        )
        holder = response["content"][PROBLEM_JSON]
        options = holder["schema"].get("oneOf", [holder["schema"]])
        known = {_code(option) for option in options}
        options = [*options, *(s for s in schemas if _code(s) not in known)]
        holder["schema"] = options[0] if len(options) == 1 else {"oneOf": options}
        response["description"] = "; ".join(f"`{_code(o)}`: {o['title']}" for o in options)


def _merge_request(operation: dict[str, Any], request: dict[str, Any]) -> None:
    """The service's request body and query parameters, where the gateway's declaration has
    none of its own (it passes them on as they are)."""
    if "requestBody" in request:
        operation.setdefault("requestBody", request["requestBody"])
    declared = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
    extra = [p for p in request.get("parameters", []) if (p["name"], p["in"]) not in declared]
    if extra:
        operation["parameters"] = [*operation.get("parameters", []), *extra]


def document_relayed_answers(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with the relayed answers merged in (built once)."""
    own = app.openapi

    def openapi_without_relayed() -> dict[str, Any]:
        saved, app.openapi_schema = app.openapi_schema, None
        try:
            return own()
        finally:
            app.openapi_schema = saved

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = merge_relayed(openapi_without_relayed(), _relayed())
        return app.openapi_schema

    app.openapi_without_relayed = openapi_without_relayed  # type: ignore[attr-defined]
    app.openapi = openapi  # type: ignore[method-assign]
