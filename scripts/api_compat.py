"""The public contracts do not break: the gateway's OpenAPI and the protobuf messages.

    .venv/bin/python scripts/api_compat.py --write   # refresh docs/api/openapi.json
    .venv/bin/python scripts/api_compat.py --check   # make lint

``docs/api/openapi.json`` is the public API's document (the gateway's, with the relayed routes'
answers merged in), committed so a change to it shows in review. ``--check`` fails when it is
stale, then compares it and ``proto/`` with a base: ``CORTEX_API_BASE`` if set, else the last
release tag (``v*``), else — until a release exists — ``HEAD`` when the working tree changes
the contracts, otherwise ``HEAD~1`` (the previous commit on main). A breaking change fails
unless the commit that makes it says so in a trailer line ``API-Breaking: <why>`` (before the
first release only; after one, a break needs a new API version: docs/governance.md).
The OpenAPI rules are in :func:`openapi_breaks`; the protobuf ones are buf's (``FILE``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "docs" / "api" / "openapi.json"
SNAPSHOT_PATH = "docs/api/openapi.json"
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
TRAILER = "API-Breaking:"
Doc = dict[str, Any]


def current_document() -> Doc:
    sys.path.insert(0, str(ROOT / "scripts"))
    from cryptography.fernet import Fernet
    from gen_gateway_openapi import _DB, _SECRET

    from gateway.app import create_app
    from gateway.settings import Settings

    settings = Settings(
        database_url=_DB, internal_secret=_SECRET, secrets_key=Fernet.generate_key().decode()
    )
    document: Doc = create_app(settings).openapi()
    return document


def _text(document: Doc) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --- the OpenAPI rules -------------------------------------------------------------------


class _Schemas:
    """Schemas of one document with ``$ref`` resolved."""

    def __init__(self, document: Doc) -> None:
        self._components: Doc = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: Doc) -> Doc:
        seen: set[str] = set()
        while isinstance(schema, dict) and "$ref" in schema:
            name = str(schema["$ref"]).rsplit("/", 1)[1]
            if name in seen:
                return {}
            seen.add(name)
            schema = self._components.get(name, {})
        if isinstance(schema, dict) and len(schema.get("allOf", [])) == 1:
            return self.resolve(schema["allOf"][0])
        return schema if isinstance(schema, dict) else {}


def _types(schema: Doc) -> set[str]:
    """The JSON types a schema admits (``anyOf`` of simple types folded in); empty: any."""
    if "type" in schema:
        kind = schema["type"]
        return set(kind) if isinstance(kind, list) else {str(kind)}
    out: set[str] = set()
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        if "type" not in option:
            return set()
        out |= _types(option)
    return out


def _non_null(schema: Doc) -> list[Doc]:
    options = schema.get("anyOf")
    if options is None:
        return [schema]
    return [o for o in options if o.get("type") != "null"]


def _compare(
    old_s: _Schemas, new_s: _Schemas, old: Doc, new: Doc, where: str, *, request: bool, depth: int
) -> Iterator[str]:
    """Breaking differences of one schema: for a request, what old clients sent must still be
    accepted; for a response, what old clients read must still come."""
    if depth > 12:
        return
    old, new = old_s.resolve(old), new_s.resolve(new)
    old_types, new_types = _types(old), _types(new)
    if request and old_types and new_types and not old_types <= new_types:
        yield f"{where}: accepts {sorted(new_types)} instead of {sorted(old_types)}"
    if not request and old_types and new_types and not new_types <= old_types:
        yield f"{where}: may answer {sorted(new_types)} instead of {sorted(old_types)}"
    if "enum" in old and "enum" in new:
        if request and (gone := [v for v in old["enum"] if v not in new["enum"]]):
            yield f"{where}: no longer accepts {gone}"
        if not request and (added := [v for v in new["enum"] if v not in old["enum"]]):
            yield f"{where}: may answer the new values {added}"
    yield from _compare_objects(old_s, new_s, old, new, where, request=request, depth=depth)
    old_items, new_items = old.get("items"), new.get("items")
    if isinstance(old_items, dict) and isinstance(new_items, dict):
        yield from _compare(
            old_s, new_s, old_items, new_items, f"{where}[]", request=request, depth=depth + 1
        )
    old_options, new_options = _non_null(old), _non_null(new)
    if old_options != [old] and len(old_options) == 1 and len(new_options) == 1:
        yield from _compare(
            old_s, new_s, old_options[0], new_options[0], where, request=request, depth=depth + 1
        )


def _compare_objects(
    old_s: _Schemas, new_s: _Schemas, old: Doc, new: Doc, where: str, *, request: bool, depth: int
) -> Iterator[str]:
    old_props: Doc = old.get("properties", {})
    new_props: Doc = new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    if request:
        for name in sorted(new_required - old_required):
            yield f"{where}.{name}: newly required"
        if new.get("additionalProperties") is False:
            for name in sorted(set(old_props) - set(new_props)):
                yield f"{where}.{name}: no longer accepted"
    else:
        for name in sorted(old_required - new_required):
            yield f"{where}.{name}: no longer always answered"
        for name in sorted(set(old_props) - set(new_props)):
            yield f"{where}.{name}: no longer answered"
    for name in sorted(set(old_props) & set(new_props)):
        yield from _compare(
            old_s,
            new_s,
            old_props[name],
            new_props[name],
            f"{where}.{name}",
            request=request,
            depth=depth + 1,
        )


def _json_schema(holder: Doc) -> Doc | None:
    content = holder.get("content", {})
    if "application/json" in content:
        schema: Doc = content["application/json"].get("schema", {})
        return schema
    return None


def _operation_breaks(
    old_s: _Schemas, new_s: _Schemas, old: Doc, new: Doc, where: str
) -> Iterator[str]:
    old_success = {s for s in old.get("responses", {}) if s.startswith("2")}
    new_success = {s for s in new.get("responses", {}) if s.startswith("2")}
    if old_success and not old_success & new_success:
        yield f"{where}: answers {sorted(new_success)} instead of {sorted(old_success)}"
    old_params = {(p["name"], p["in"]): p for p in old.get("parameters", [])}
    for param in new.get("parameters", []):
        key = (param["name"], param["in"])
        before = old_params.get(key)
        if param.get("required") and (before is None or not before.get("required")):
            yield f"{where}: parameter {param['name']} ({param['in']}) newly required"
        if before is not None:
            yield from _compare(
                old_s,
                new_s,
                before.get("schema", {}),
                param.get("schema", {}),
                f"{where} ?{param['name']}",
                request=True,
                depth=0,
            )
    old_body, new_body = old.get("requestBody"), new.get("requestBody")
    if new_body is not None and new_body.get("required") and not (old_body or {}).get("required"):
        yield f"{where}: request body newly required"
    if old_body is not None and new_body is not None:
        old_schema, new_schema = _json_schema(old_body), _json_schema(new_body)
        if old_schema is not None and new_schema is not None:
            yield from _compare(
                old_s, new_s, old_schema, new_schema, f"{where} body", request=True, depth=0
            )
    for status in sorted(old_success & new_success):
        old_answer = _json_schema(old["responses"][status])
        new_answer = _json_schema(new["responses"][status])
        if old_answer is not None and new_answer is not None:
            yield from _compare(
                old_s, new_s, old_answer, new_answer, f"{where} {status}", request=False, depth=0
            )


def openapi_breaks(old: Doc, new: Doc) -> list[str]:
    """What a client written against ``old`` would find broken in ``new``: a path or method
    removed, a success status changed, a parameter or request field newly required, a request
    field or value no longer accepted, a request type narrowed, an answered field removed or
    made optional, an answer's type widened or a new enum value answered."""
    old_s, new_s = _Schemas(old), _Schemas(new)
    breaks: list[str] = []
    for path, old_item in sorted(old.get("paths", {}).items()):
        new_item = new.get("paths", {}).get(path)
        for method, old_op in sorted(old_item.items()):
            where = f"{method.upper()} {path}"
            if new_item is None or method not in new_item:
                breaks.append(f"{where}: removed")
                continue
            breaks.extend(_operation_breaks(old_s, new_s, old_op, new_item[method], where))
    return breaks


# --- the base and the check --------------------------------------------------------------


def _git(*args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def base_ref() -> str | None:
    if explicit := os.environ.get("CORTEX_API_BASE"):
        return explicit
    if tag := _git("describe", "--tags", "--abbrev=0", "--match", "v*"):
        return tag
    if _git("status", "--porcelain", "--", SNAPSHOT_PATH, "proto"):
        return "HEAD"
    return "HEAD~1" if _git("rev-parse", "--verify", "-q", "HEAD~1") else None


def _acknowledged(base: str) -> str | None:
    """The ``API-Breaking:`` reason of the commits after ``base``, when the change is
    committed and no release exists yet."""
    if base == "HEAD" or base.startswith("v"):
        return None
    log = _git("log", "--format=%B", f"{base}..HEAD") or ""
    for line in log.splitlines():
        if line.startswith(TRAILER):
            return line[len(TRAILER) :].strip() or "(no reason given)"
    return None


def _buf_breaks(base: str) -> list[str]:
    if not BUF.exists():
        return [f"{BUF.relative_to(ROOT)} is missing: run `make tools`"]
    done = subprocess.run(
        [str(BUF), "breaking", "--against", f".git#ref={base}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return []
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def check() -> int:
    document = current_document()
    if not SNAPSHOT.exists() or SNAPSHOT.read_text() != _text(document):
        print(f"{SNAPSHOT_PATH} is stale: run scripts/api_compat.py --write and review the diff")
        return 1
    base = base_ref()
    if base is None:
        print("api_compat: no base to compare with (a first commit or a shallow clone)")
        return 0
    old_text = _git("show", f"{base}:{SNAPSHOT_PATH}")
    breaks = []
    if old_text:  # the base has a snapshot (none before this check existed)
        breaks = [f"openapi: {b}" for b in openapi_breaks(json.loads(old_text), document)]
    breaks += [f"protobuf: {b}" for b in _buf_breaks(base)]
    if not breaks:
        return 0
    reason = _acknowledged(base)
    print(f"breaking changes of the public contracts against {base}:")
    for line in breaks:
        print(f"  {line}")
    if reason is not None:
        print(f"accepted before the first release ({TRAILER} {reason})")
        return 0
    print(
        f"keep the old shape, add a new version (docs/governance.md), or — before the first "
        f"release only — say why in a commit trailer `{TRAILER} <why>`"
    )
    return 1


def main(argv: list[str]) -> int:
    if "--write" in argv:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(_text(current_document()))
        print(f"wrote {SNAPSHOT_PATH}")
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
