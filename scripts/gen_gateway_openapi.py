"""Write gateway/openapi_relayed.json: the success answers of the routes the gateway relays.

    .venv/bin/python scripts/gen_gateway_openapi.py [--check]

The gateway relays most routes byte for byte to the service that owns them, so its own route
declarations know nothing of the answer's shape. This script builds each service's OpenAPI
document (the real apps, never started), finds the service operation(s) behind each relayed
gateway route — the same method and path, or, where the gateway takes a path parameter the
service spells out (`/policy/{view}` → `/policy/versions`, `/policy/diff`, …), every service
path that fits — and writes their success status and schema, with every component schema they
reference, and the request bodies, query parameters and problem answers the services declare
for them. The
gateway merges the file into its `/openapi.json` (gateway/openapi.py); `make lint` fails when
the file is stale.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "gateway" / "openapi_relayed.json"
_DB = "postgresql+asyncpg://cortex@127.0.0.1:1/never_connected"
# Never used to sign anything: the apps are built for their documents only.
_SECRET = secrets.token_urlsafe(32)
Operations = dict[str, dict[str, Any]]


def _services() -> dict[str, Callable[[], Any]]:
    from approval_workflow.app import create_app as approvals
    from approval_workflow.settings import Settings as ApprovalSettings
    from metrics_collector.app import create_app as collector
    from metrics_collector.settings import Settings as CollectorSettings
    from policy_engine.app import create_app as engine
    from policy_engine.settings import Settings as EngineSettings
    from rollout_orchestrator.app import create_app as orchestrator
    from rollout_orchestrator.settings import Settings as OrchestratorSettings

    return {
        "policy_engine": lambda: engine(EngineSettings(database_url=_DB, internal_secret=_SECRET)),
        "metrics_collector": lambda: collector(
            CollectorSettings(database_url=_DB, internal_secret=_SECRET)
        ),
        "approval_workflow": lambda: approvals(
            ApprovalSettings(database_url=_DB, internal_secret=_SECRET)
        ),
        "rollout_orchestrator": lambda: orchestrator(
            OrchestratorSettings(database_url=_DB, internal_secret=_SECRET)
        ),
    }


def _gateway_document() -> dict[str, Any]:
    from cryptography.fernet import Fernet

    from gateway.app import create_app
    from gateway.settings import Settings

    settings = Settings(
        database_url=_DB, internal_secret=_SECRET, secrets_key=Fernet.generate_key().decode()
    )
    # The gateway's own declarations, before the relayed answers are merged in.
    app = create_app(settings)
    document: dict[str, Any] = app.openapi_without_relayed()  # type: ignore[attr-defined]
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            return status, schema or {}
    return None


def _successes(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every success status of a service operation with a schema (201 and 200 for a create
    that may find the thing already there)."""
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema:
                yield status, schema


def _fits(gateway_path: str, service_path: str) -> bool:
    ours, theirs = gateway_path.split("/"), service_path.split("/")
    return len(ours) == len(theirs) and all(
        a == b or a.startswith("{") or b.startswith("{") for a, b in zip(ours, theirs, strict=True)
    )


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[1]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _with_dependencies(names: set[str], schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    todo = sorted(names)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = schemas[name]
        todo += [n for n in _refs(schemas[name]) if n not in out]
    return out


def _answers(
    services: dict[str, dict[str, Any]], method: str, path: str, *, exact: bool
) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(service, status, schema, operation) of each service operation behind the gateway's
    route."""
    found = []
    for service, document in services.items():
        for their_method, their_path, theirs in _operations(document):
            if their_method != method:
                continue
            if their_path == path if exact else _fits(path, their_path):
                for status, schema in _successes(theirs):
                    found.append((service, status, schema, theirs))
    return found


INTERNAL_CODES = frozenset({"principal_required", "invalid_roles", "internal_signature_invalid"})
"""Problems of the services' internal checks of the gateway's own headers: never public."""


def _problems(operations: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The problem+json answers the services declare for the route, by status, each code once
    (the gateway relays them as they are)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for operation in operations:
        for status, response in operation["responses"].items():
            if not status.isdigit() or int(status) < 400:
                continue
            schema = response["content"]["application/problem+json"]["schema"]
            for option in schema.get("oneOf", [schema]):
                code = option["properties"]["code"]["const"]
                known = {o["properties"]["code"]["const"] for o in out.get(status, [])}
                if code not in INTERNAL_CODES and code not in known:
                    out.setdefault(status, []).append(option)
    return dict(sorted(out.items()))


def _request(operations: list[dict[str, Any]]) -> dict[str, Any]:
    """What the caller sends, as the service documents it: its request body and its query
    parameters (the gateway passes both on as they are; headers are the gateway's own). Only
    when every service operation behind the route agrees."""
    shapes = []
    for operation in operations:
        shape: dict[str, Any] = {}
        if "requestBody" in operation:
            shape["requestBody"] = operation["requestBody"]
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        if query:
            shape["parameters"] = query
        if shape not in shapes:
            shapes.append(shape)
    return shapes[0] if len(shapes) == 1 else {}


def _prefix(service: str) -> str:
    return "".join(word.title() for word in service.split("_"))


def _namespaced(
    services: dict[str, dict[str, Any]], gateway: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The services' documents with every component schema whose name another service (or the
    gateway) uses for a different schema renamed ``<Service><Name>``."""
    bodies: dict[str, list[Any]] = {}
    for document in [gateway, *services.values()]:
        for name, body in document.get("components", {}).get("schemas", {}).items():
            if body not in bodies.setdefault(name, []):
                bodies[name].append(body)
    clashing = {name for name, seen in bodies.items() if len(seen) > 1}
    out = {}
    for service, document in services.items():
        text = json.dumps(document)
        for name in clashing & set(document.get("components", {}).get("schemas", {})):
            text = text.replace(
                f'"#/components/schemas/{name}"', f'"#/components/schemas/{_prefix(service)}{name}"'
            )
        renamed = json.loads(text)
        components = renamed.get("components", {}).get("schemas", {})
        for name in clashing & set(components):
            components[f"{_prefix(service)}{name}"] = components.pop(name)
        out[service] = renamed
    return out


def build() -> dict[str, Any]:
    gateway = _gateway_document()
    services = _namespaced({name: make().openapi() for name, make in _services().items()}, gateway)
    relayed: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for method, path, operation in _operations(gateway):
        success = _success(operation)
        if success is None or success[1] != {}:  # a route the gateway answers itself
            continue
        found = _answers(services, method, path, exact=True) or _answers(
            services, method, path, exact=False
        )
        if not found:
            continue
        by_status: dict[str, list[dict[str, Any]]] = {}
        for _, status, schema, _ in found:
            if schema not in by_status.setdefault(status, []):
                by_status[status].append(schema)
        request = _request([theirs for *_, theirs in found])
        problems = _problems([theirs for *_, theirs in found])
        relayed[f"{method} {path}"] = {
            "services": sorted({service for service, *_ in found}),
            "answers": {
                status: options[0] if len(options) == 1 else {"oneOf": options}
                for status, options in sorted(by_status.items())
            },
            **({"request": request} if request else {}),
            **({"problems": problems} if problems else {}),
        }
        for service, _, answer_schema, _ in found:
            names = set(_refs(answer_schema)) | set(_refs(request))
            component = services[service].get("components", {}).get("schemas", {})
            for name, body in _with_dependencies(names, component).items():
                if name in schemas and schemas[name] != body:
                    raise SystemExit(f"schema {name!r} differs between services; rename one")
                schemas[name] = body
    return {"responses": dict(sorted(relayed.items())), "schemas": dict(sorted(schemas.items()))}


def main(argv: list[str]) -> int:
    text = json.dumps(build(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen_gateway_openapi.py")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
