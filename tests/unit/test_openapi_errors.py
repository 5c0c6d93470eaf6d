"""Every route of every app declares its problem+json answers, each code has one error class.

The OpenAPI documents are built from the real apps (``create_app``) without starting them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from cortex_kit.errors import (
    EVERY_ROUTE,
    PROBLEM_JSON,
    CortexError,
    NotFound,
    Unauthorized,
    problem_responses,
)

from .apps import APPS
from .apps import gateway as _gateway
from .apps import policy_engine as _policy_engine

Operation = tuple[str, str, dict[str, Any]]


def _operations(app: FastAPI) -> Iterator[Operation]:
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", path, operation


def _problems(operation: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """The problem schemas each 4xx/5xx status of ``operation`` declares."""
    found: dict[int, list[dict[str, Any]]] = {}
    for status, response in operation["responses"].items():
        if not status.isdigit() or int(status) < 400:
            continue
        content = response.get("content", {})
        assert list(content) == [PROBLEM_JSON], f"{status} is not only {PROBLEM_JSON}: {content}"
        schema = content[PROBLEM_JSON]["schema"]
        found[int(status)] = schema.get("oneOf", [schema])
    return found


def _declared_codes(operation: dict[str, Any]) -> dict[str, int]:
    return {
        schema["properties"]["code"]["const"]: status
        for status, schemas in _problems(operation).items()
        for schema in schemas
    }


def _error_classes() -> list[type[CortexError]]:
    for build in APPS.values():  # importing the apps imports every error class
        build()
    seen: list[type[CortexError]] = []
    todo: list[type[CortexError]] = [CortexError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


@pytest.fixture(scope="module")
def classes_by_code() -> dict[str, list[type[CortexError]]]:
    by_code: dict[str, list[type[CortexError]]] = {}
    for cls in _error_classes():
        if "code" in vars(cls):  # an intermediate base that names no code of its own is not one
            by_code.setdefault(cls.code, []).append(cls)
    return by_code


@pytest.mark.parametrize("name", sorted(APPS))
def test_every_route_declares_its_problem_answers(name: str) -> None:
    operations = list(_operations(APPS[name]()))
    assert operations
    for where, _, operation in operations:
        codes = _declared_codes(operation)
        for kit_wide in EVERY_ROUTE:
            assert codes.get(kit_wide.code) == kit_wide.status, f"{where}: no {kit_wide.code}"


def test_every_authenticated_gateway_route_declares_401_and_403() -> None:
    for where, path, operation in _operations(_gateway()):
        codes = _declared_codes(operation)
        if path in ("/v1/webhooks/github", "/v1/webhooks/gitlab", "/v1/webhooks/pagerduty"):
            assert codes.get("invalid_signature") == 401, where  # signed, no API key
            continue
        for code, status in (
            ("missing_api_key", 401),
            ("invalid_api_key", 401),
            ("role_forbidden", 403),
        ):
            assert codes.get(code) == status, f"{where}: no {code}"


@pytest.mark.parametrize("name", sorted(APPS))
def test_every_declared_code_is_one_class_with_that_status(
    name: str, classes_by_code: dict[str, list[type[CortexError]]]
) -> None:
    for where, _, operation in _operations(APPS[name]()):
        for code, status in _declared_codes(operation).items():
            classes = classes_by_code.get(code, [])
            assert len(classes) == 1, f"{where}: {code} is raised by {classes or 'no class'}"
            assert classes[0].status == status, f"{where}: {code}"


def test_no_two_error_classes_share_a_code(
    classes_by_code: dict[str, list[type[CortexError]]],
) -> None:
    shared = {code: classes for code, classes in classes_by_code.items() if len(classes) > 1}
    assert shared == {}


def test_routes_declare_what_they_raise() -> None:
    policy_engine = {where: op for where, _, op in _operations(_policy_engine())}
    codes = _declared_codes(policy_engine["GET /v1/agencies/{agency}/policy"])
    assert codes["policy_not_found"] == 404
    assert codes["agency_forbidden"] == 403
    assert codes["agency_required"] == 400
    publish = _declared_codes(policy_engine["PUT /v1/agencies/{agency}/policy"])
    assert {"policy_invalid", "policy_too_deep", "unsupported_media_type"} <= set(publish)
    assert publish["policy_too_large"] == 413
    gateway = {where: op for where, _, op in _operations(_gateway())}
    assert _declared_codes(gateway["DELETE /v1/keys/{key_id}"])["key_not_found"] == 404
    assert _declared_codes(gateway["PUT /v1/org/policy"])["org_admin_required"] == 403


def test_a_problem_body_matches_its_class_schema() -> None:
    class WidgetNotFound(NotFound):
        code = "widget_not_found"
        extra_schema = {"widget": {"type": "string"}}

    body = WidgetNotFound(
        "No widget.", remediation="Check the id.", extra={"widget": "w1"}
    ).problem("/v1/widgets/w1")
    schema = WidgetNotFound.schema()
    assert set(schema["required"]) <= set(body)
    assert set(body) <= set(schema["properties"])
    for name, member in schema["properties"].items():
        if "const" in member:
            assert body[name] == member["const"], name


def test_problem_responses_group_classes_by_status() -> None:
    class Gone(CortexError):
        status = 404
        code = "gone_for_good"
        title = "Gone"

    responses = problem_responses(NotFound, Gone, Unauthorized)
    schemas = responses[404]["content"][PROBLEM_JSON]["schema"]["oneOf"]
    assert [s["properties"]["code"]["const"] for s in schemas] == ["not_found", "gone_for_good"]
    assert "`gone_for_good`" in responses[404]["description"]
    assert set(responses) == {401, 404} | {error.status for error in EVERY_ROUTE}
