"""Every route documents its success answer: a named schema (a response model), or 204 with
no body, never an undocumented or free-form object (issue 9 item 6).

Routes of the gateway that relay an upstream service's answer as it is are listed apart: the
upstream's OpenAPI documents those answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .apps import APPS

CHECKED = [
    "gateway",
    "policy_engine",
    "metrics_collector",
    "approval_workflow",
    "rollout_orchestrator",
]
"""The processes whose every route (but the relays) must name its success schema."""

RELAYED = {
    "gateway": {
        "POST /v1/deployments",
        "GET /v1/deployments",
        "GET /v1/deployments/{deployment_id}",
        "POST /v1/deployments/{deployment_id}/pause",
        "POST /v1/deployments/{deployment_id}/resume",
        "POST /v1/deployments/{deployment_id}/abort",
        "POST /v1/deployments/{deployment_id}/rollback",
        "POST /v1/authorize",
        "POST /v1/decisions/{decision_id}/usage",
        "GET /v1/decisions",
        "GET /v1/decisions/{decision_id}",
        "POST /v1/policies/validate",
        "GET /v1/policies/schema",
        "PUT /v1/agencies/{agency}/policy",
        "GET /v1/agencies/{agency}/policy",
        "GET /v1/agencies/{agency}/policy/{view}",
        "POST /v1/agencies/{agency}/policy/{action}",
        "PUT /v1/org/policy",
        "GET /v1/org/policy",
        "GET /v1/org/policy/versions",
        "POST /v1/org/policy/rollback",
        "GET /v1/agencies/{agency}/wizard",
        "PUT /v1/agencies/{agency}/wizard/{step}",
        "POST /v1/agencies/{agency}/wizard/publish",
        "GET /v1/metrics/dora",
        "GET /v1/metrics/dora/schema",
        "GET /v1/metrics/settings",
        "PUT /v1/metrics/settings",
        "GET /v1/events",
        "GET /v1/events/{kind}/{event_id}",
        "GET /v1/approvals",
        "POST /v1/approvals",
        "GET /v1/approvals/{approval_id}",
        "POST /v1/approvals/{approval_id}/decisions",
        "POST /v1/approvals/decisions",
        "GET /v1/approvals/notifications",
        "PUT /v1/approvals/notifications",
        "POST /v1/agents",
        "GET /v1/agents",
        "GET /v1/agents/{agent_id}",
        "POST /v1/agents/{agent_id}/heartbeat",
        "GET /v1/agents/{agent_id}/desired",
        "PUT /v1/agents/{agent_id}/desired",
    }
}
AWAITING_SERVICE: dict[str, set[str]] = {}
"""Relayed routes whose service does not serve them yet: none."""


def _operations(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in APPS[name]().openapi()["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _success_problem(operation: dict[str, Any]) -> str | None:
    """What is wrong with the operation's success answers, or None."""
    success = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
    if not success:
        return "no success answer"
    # Several only as 201 + 200 (created, or found already there), each with its model.
    if len(success) > 1 and set(success) != {"200", "201"}:
        return f"{len(success)} success answers: {sorted(success)}"
    problems = [p for s, r in sorted(success.items()) if (p := _answer_problem(s, r))]
    return "; ".join(problems) or None


def _answer_problem(status: str, response: dict[str, Any]) -> str | None:
    content = response.get("content", {})
    if status == "204":
        return None if not content else "a 204 with a body"
    if "application/json" not in content and any(m.startswith("text/") for m in content):
        # A document answered as text (the postmortem's Markdown): its media type is its model.
        text = [m for m, c in content.items() if c.get("schema", {}).get("type") == "string"]
        return None if text else f"{status} text without a string schema: {content}"
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" not in schema:
        return f"{status} has no response model: {schema}"
    return None


@pytest.mark.parametrize("name", CHECKED)
def test_every_route_names_its_success_schema(name: str) -> None:
    relayed = RELAYED.get(name, set()) | AWAITING_SERVICE.get(name, set())
    problems = {
        where: problem
        for where, operation in _operations(name)
        if where not in relayed and (problem := _success_problem(operation)) is not None
    }
    assert problems == {}


@pytest.mark.parametrize("name", sorted(RELAYED))
def test_every_relayed_route_exists(name: str) -> None:
    relayed = RELAYED[name] | AWAITING_SERVICE.get(name, set())
    assert relayed <= {where for where, _ in _operations(name)}


def _typed(schema: dict[str, Any]) -> bool:
    return "$ref" in schema or (
        bool(schema.get("oneOf")) and all("$ref" in option for option in schema["oneOf"])
    )


def test_every_relayed_route_documents_the_services_answer() -> None:
    """The gateway's document carries each relayed route's success schema from the service
    (scripts/gen_gateway_openapi.py), and every schema it references."""
    document = APPS["gateway"]().openapi()
    components = document["components"]["schemas"]
    operations = dict(_operations("gateway"))
    untyped = {}
    for where in RELAYED["gateway"]:
        success = {s: r for s, r in operations[where]["responses"].items() if s.startswith("2")}
        schemas = [r["content"]["application/json"]["schema"] for r in success.values()]
        if not success or not all(_typed(schema) for schema in schemas):
            untyped[where] = success
    dangling = {
        ref.rsplit("/", 1)[1]
        for ref in _all_refs(document)
        if ref.rsplit("/", 1)[1] not in components
    }

    assert untyped == {}
    assert dangling == set()
    assert components["AuthorizeResponse"]["properties"]["decision"]["enum"] == [
        "allow",
        "deny",
        "require_approval",
    ]


def _all_refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for item in value.values():
            yield from _all_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_refs(item)


def test_deletes_answer_204_with_no_body() -> None:
    for where, operation in _operations("gateway"):
        if where.startswith("DELETE "):
            assert list(operation["responses"]).count("204") == 1, where
            assert "content" not in operation["responses"]["204"], where


def test_relayed_routes_document_what_the_caller_sends() -> None:
    """A relayed route's request body and query parameters come from the service's document,
    so a generated client knows what to send (not only what comes back)."""
    operations = dict(_operations("gateway"))
    create = operations["POST /v1/approvals"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    listing = {p["name"] for p in operations["GET /v1/approvals"]["parameters"]}
    without_body = {
        where
        for where in RELAYED["gateway"]
        if where.split(" ")[0] in {"POST", "PUT"} and "requestBody" not in operations[where]
    }

    assert body == {"$ref": "#/components/schemas/ApprovalCreate"}
    assert "ApprovalCreate" in APPS["gateway"]().openapi()["components"]["schemas"]
    assert {"agency", "status", "limit"} <= listing
    # The routes that take a body the service reads raw (YAML or JSON) declare none.
    assert without_body <= {
        "POST /v1/agencies/{agency}/policy/{action}",
        "POST /v1/agencies/{agency}/wizard/publish",
    }
