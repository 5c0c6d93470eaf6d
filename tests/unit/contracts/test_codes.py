"""Every code the source can emit is registered (``cortex_contracts.codes``) with a message, a
remediation and a section of docs/errors.md, and every documentation address resolves.

The source is read, not imported (``ast``), so a code added anywhere shows up here, whatever
class or module holds it. What counts as emitting a code:

- a class attribute ``code = "..."`` (every ``CortexError`` subclass: kit, services, gateway);
- a keyword ``code="..."`` or ``*_code="..."`` in a call (``Reason(code=...)``,
  ``Issue(code=...)``, a finding), and a dict entry ``"code": "..."``;
- ``docs_url("...")``, and every module-level ``UPPER_NAME = "snake_case"`` of a module that
  uses ``docs_url`` (the reason codes of the policy engine are declared this way).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cortex_contracts import codes
from cortex_contracts.codes import DOCS_BASE, DOCS_FILE, REGISTRY, docs_url, render_markdown

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ("libs", "services", "gateway")
SKIPPED_DIRS = {"_pb", "migrations", "__pycache__"}
REGISTRY_FILE = Path(codes.__file__).resolve()  # names codes, emits none
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
DOCS_URL = re.compile(r"https://codevald\.io/cortex/docs/([a-z0-9_-]+)(?:#([^\s\"'`)<>\\]*))?")


@dataclass(frozen=True)
class Site:
    path: str
    line: int
    what: str

    @property
    def component(self) -> str:
        parts = Path(self.path).parts
        if parts[0] == "services":
            return parts[1].replace("_", "-")
        if parts[0] == "gateway":
            return codes.GATEWAY
        return codes.KIT  # libs: the kit, and the SDK relaying the kit's codes

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.what})"


def _source_files() -> Iterator[Path]:
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if not SKIPPED_DIRS.intersection(path.parts) and path.resolve() != REGISTRY_FILE:
                yield path


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and SNAKE.match(node.value):
        return node.value
    return None


def _assigned(statement: ast.stmt) -> tuple[str, ast.expr | None] | None:
    """``NAME = value`` or ``NAME: T = value``: the name and the value."""
    value: ast.expr | None
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target, value = statement.targets[0], statement.value
    elif isinstance(statement, ast.AnnAssign):
        target, value = statement.target, statement.value
    else:
        return None
    return (target.id, value) if isinstance(target, ast.Name) else None


def _uses_docs_url(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "docs_url"
    return isinstance(node, ast.alias) and (node.asname or node.name) == "docs_url"


def _sites(tree: ast.Module, rel: str) -> Iterator[tuple[str, Site]]:
    uses_docs_url = False
    for node in ast.walk(tree):
        uses_docs_url = uses_docs_url or _uses_docs_url(node)
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                assigned = _assigned(statement)
                code = _literal(assigned[1]) if assigned and assigned[0] == "code" else None
                if code:
                    yield code, Site(rel, statement.lineno, f"class {node.name}")
        elif isinstance(node, ast.keyword) and node.arg:
            code = _literal(node.value)
            if code and (node.arg == "code" or node.arg.endswith("_code")):
                yield code, Site(rel, node.value.lineno, f"{node.arg}=")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                code = _literal(value)
                if code and isinstance(key, ast.Constant) and key.value == "code":
                    yield code, Site(rel, value.lineno, '"code":')
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "docs_url":
            code = _literal(node.args[0]) if node.args else None
            if code:
                yield code, Site(rel, node.lineno, "docs_url()")
    if not uses_docs_url:
        return
    for statement in tree.body:
        assigned = _assigned(statement)
        code = _literal(assigned[1]) if assigned and assigned[0].isupper() else None
        if assigned and code:
            yield code, Site(rel, statement.lineno, assigned[0])


def scan() -> dict[str, list[Site]]:
    """Every code the source emits, with where."""
    found: dict[str, list[Site]] = {}
    for path in _source_files():
        rel = str(path.relative_to(ROOT))
        for code, site in _sites(ast.parse(path.read_text(), rel), rel):
            found.setdefault(code, []).append(site)
    return found


@pytest.fixture(scope="module")
def emitted() -> dict[str, list[Site]]:
    return scan()


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of every heading outside code fences (duplicates get ``-1``, ``-2``…)."""
    out: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading and not fenced:
            slug = _slug(heading.group(1))
            n, candidate = 0, slug
            while candidate in out:
                n += 1
                candidate = f"{slug}-{n}"
            out.add(candidate)
    return out


# ------------------------------------------------------------------------------ registered


def test_the_scan_sees_every_kind_of_site(emitted: dict[str, list[Site]]) -> None:
    """The scan itself works: one code of each way of declaring one."""
    kinds = {code: {site.what for site in sites} for code, sites in emitted.items()}
    assert "class AgentNotFound" in kinds["agent_not_found"]
    assert "class PayloadTooLarge" in kinds["payload_too_large"]
    assert "PAYLOAD_TOO_LARGE" in kinds["payload_too_large"]  # a reason code
    assert "APPROVED" in kinds["approved"]
    assert "code=" in kinds["policy_scope_mismatch"]
    assert '"code":' in kinds["http_error"]


_CONSTANT_OF = {
    getattr(codes, name): name
    for name in ("KIT", "GATEWAY", "POLICY", "APPROVALS", "METRICS", "ROLLOUTS")
}


def test_every_code_the_source_emits_is_registered(emitted: dict[str, list[Site]]) -> None:
    missing = sorted(emitted.keys() - REGISTRY.keys())

    def emitter(code: str) -> str:
        component = emitted[code][0].component
        return _CONSTANT_OF.get(component, repr(component))

    assert not missing, (
        f"{len(missing)} code(s) without an entry in libs/cortex_contracts/codes.py — add one "
        "Code(...) each, then `python -m cortex_contracts.codes --write` (docs/errors.md):\n"
        + "\n".join(
            f'  Code("{code}", E, ({emitter(code)},), "<what it means>.", '
            f'"<how to fix it>."),  # {", ".join(map(str, emitted[code]))}'
            for code in missing
        )
    )


def test_every_registered_code_is_still_emitted(emitted: dict[str, list[Site]]) -> None:
    stale = sorted(REGISTRY.keys() - emitted.keys())
    assert not stale, f"registered but emitted nowhere (remove or rename the entry): {stale}"


def test_every_emitter_of_a_code_is_named_by_its_entry(emitted: dict[str, list[Site]]) -> None:
    wrong = [
        f"{code}: emitted by {site.component} at {site}, entry names {REGISTRY[code].emitted_by}"
        for code, sites in emitted.items()
        if code in REGISTRY
        for site in sites
        if site.component not in REGISTRY[code].emitted_by
    ]
    assert not wrong, "\n".join(wrong)


def test_every_entry_says_what_it_means_and_how_to_fix_it() -> None:
    for code, entry in REGISTRY.items():
        assert entry.code == code
        assert SNAKE.match(code), code
        assert entry.kinds, code
        assert entry.emitted_by, code
        for text in (entry.message, entry.remediation):
            assert text.strip(), code
            assert text.rstrip().endswith((".", ")")), (code, text)


# ------------------------------------------------------------------------------------ docs


def test_docs_errors_md_is_rendered_from_the_registry() -> None:
    text = (ROOT / DOCS_FILE).read_text()
    assert text == render_markdown(), (
        f"{DOCS_FILE} is not the registry's: run `python -m cortex_contracts.codes --write`"
    )


def test_every_registered_code_has_its_section() -> None:
    sections = anchors((ROOT / DOCS_FILE).read_text())
    assert not sorted(REGISTRY.keys() - sections)
    for code in REGISTRY:
        assert f"\n## {code}\n" in (ROOT / DOCS_FILE).read_text()


def test_problem_types_and_reason_urls_are_sections_of_docs_errors_md() -> None:
    from cortex_kit import errors as kit_errors
    from policy_engine.domain.decisions import decision

    assert kit_errors.DOCS_BASE == DOCS_BASE
    assert DOCS_BASE.rsplit("/", 1)[-1] == Path(DOCS_FILE).stem
    sections = anchors((ROOT / DOCS_FILE).read_text())
    for code in REGISTRY:
        assert docs_url(code) == f"{DOCS_BASE}#{code}"
        assert decision.docs_url(code) == docs_url(code)
        assert code in sections
    not_found = kit_errors.RouteNotFound("no route", remediation="check the path")
    assert not_found.problem()["type"] == docs_url("route_not_found")


def _documentation_addresses() -> Iterator[tuple[str, str, str | None]]:
    """Every literal address of the published docs, in the source, the OpenAPI documents and
    the docs: (where, page, anchor)."""
    files = [*_source_files(), *(ROOT / "gateway").rglob("*.json"), *(ROOT / "docs").glob("*.md")]
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for match in DOCS_URL.finditer(line):
                yield f"{path.relative_to(ROOT)}:{n}", match.group(1), match.group(2)


def test_every_literal_docs_address_resolves_to_a_section() -> None:
    pages: dict[str, set[str]] = {}
    broken: list[str] = []
    seen = 0
    for where, page, anchor in _documentation_addresses():
        seen += 1
        doc = ROOT / "docs" / f"{page}.md"
        if not doc.exists():
            broken.append(f"{where}: no docs/{page}.md")
            continue
        if not anchor or "{" in anchor:  # a template (`#{code}`, `#<code>`), checked above
            continue
        sections = pages.setdefault(page, anchors(doc.read_text()))
        if anchor not in sections:
            broken.append(f"{where}: no section #{anchor} in docs/{page}.md")
    assert seen > 0
    assert not broken, "\n".join(broken)


def test_anchors_follow_githubs_rules() -> None:
    text = "# Errors\n## payload_too_large\n```\n## not a heading\n```\n## The `code` (v1)\n"
    assert anchors(text) == {"errors", "payload_too_large", "the-code-v1"}
