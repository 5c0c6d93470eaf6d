"""Every code the source can emit is registered (``cortex_contracts.codes``) with a message, a
remediation and a section of docs/errors.md, and every documentation address resolves.

The source is read, not imported (``ast``), so a code added anywhere shows up here, whatever
class or module holds it. What counts as emitting a code:

- a class attribute ``code = "..."`` (every ``CortexError`` subclass: kit, services, gateway),
  and every ``UPPER = "snake_case"`` member of a class named ``*Code`` / ``*Codes`` (an enum of
  reason or verdict codes);
- a keyword ``code=`` or ``*_code=`` in a call (``Reason(code=...)``, ``Issue(code=...)``, a
  finding), a dict entry ``"code":`` and ``docs_url(...)``, given a literal or the name of a
  module-level ``UPPER_NAME = "snake_case"`` constant (of the module, or imported);
- every module-level ``UPPER_NAME = "snake_case"`` of a module that uses ``docs_url`` (the
  reason codes of the policy engine are declared this way).

A code built at run time in another way (an f-string, a variable passed around) is not seen:
declare it as one of the above.
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


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``UPPER_NAME = "snake_case"``."""
    out: dict[str, str] = {}
    for statement in tree.body:
        assigned = _assigned(statement)
        code = _literal(assigned[1]) if assigned and assigned[0].isupper() else None
        if assigned and code:
            out[assigned[0]] = code
    return out


def _uses_docs_url(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "docs_url"
    return isinstance(node, ast.alias) and (node.asname or node.name) == "docs_url"


class _Module:
    """One source file: its tree and constants; ``constants`` of every file resolve names."""

    def __init__(self, rel: str, text: str, everywhere: dict[str, set[str]]) -> None:
        self.rel = rel
        self.tree = ast.parse(text, rel)
        self.constants = _constants(self.tree)
        self.everywhere = everywhere
        for name, code in self.constants.items():
            everywhere.setdefault(name, set()).add(code)

    def code_of(self, node: ast.AST | None) -> str | None:
        """A literal, or a constant's name (this module's, else the one value it has in the
        source: imported constants keep their names)."""
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.constants[node.id]
            values = self.everywhere.get(node.id, set())
            return next(iter(values)) if len(values) == 1 else None
        return _literal(node)

    def sites(self) -> Iterator[tuple[str, Site]]:
        rel, uses_docs_url = self.rel, False
        for node in ast.walk(self.tree):
            uses_docs_url = uses_docs_url or _uses_docs_url(node)
            if isinstance(node, ast.ClassDef):
                yield from self._class_sites(node)
            elif isinstance(node, ast.keyword) and node.arg:
                code = self.code_of(node.value)
                if code and (node.arg == "code" or node.arg.endswith("_code")):
                    yield code, Site(rel, node.value.lineno, f"{node.arg}=")
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    code = self.code_of(value)
                    if code and isinstance(key, ast.Constant) and key.value == "code":
                        yield code, Site(rel, value.lineno, '"code":')
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "docs_url":
                code = self.code_of(node.args[0]) if node.args else None
                if code:
                    yield code, Site(rel, node.lineno, "docs_url()")
        if uses_docs_url:
            for name, code in self.constants.items():
                yield code, Site(rel, _line_of(self.tree, name), name)

    def _class_sites(self, node: ast.ClassDef) -> Iterator[tuple[str, Site]]:
        every_member = node.name.endswith(("Code", "Codes"))  # e.g. class VerdictCode(StrEnum)
        for statement in node.body:
            assigned = _assigned(statement)
            if assigned is None:
                continue
            name, value = assigned
            code = _literal(value)
            if code and (name == "code" or (every_member and name.isupper())):
                yield code, Site(self.rel, statement.lineno, f"class {node.name}")


def _line_of(tree: ast.Module, name: str) -> int:
    for statement in tree.body:
        assigned = _assigned(statement)
        if assigned and assigned[0] == name:
            return statement.lineno
    return 0


def scan() -> dict[str, list[Site]]:
    """Every code the source emits, with where."""
    everywhere: dict[str, set[str]] = {}
    modules = [
        _Module(str(path.relative_to(ROOT)), path.read_text(), everywhere)
        for path in _source_files()
    ]
    found: dict[str, list[Site]] = {}
    for module in modules:
        for code, site in module.sites():
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


SYNTHETIC = {
    "services/rollout_orchestrator/domain/verdicts.py": """
from enum import StrEnum
GATE_FAILED = "gate_failed"
class VerdictCode(StrEnum):
    NO_DATA = "no_data"
    label = "not_a_code"
def verdict():
    return Verdict(reason_code=GATE_FAILED)
""",
    "gateway/preflight/findings.py": """
from rollout_orchestrator.domain.verdicts import GATE_FAILED
TIMEOUT = "service_timeout"
def finding(source):
    return [{"code": TIMEOUT, "source": source}, Finding(code="conflict_in_flight")]
""",
}


def test_the_scan_finds_new_codes_in_every_declared_form() -> None:
    everywhere: dict[str, set[str]] = {}
    modules = [_Module(rel, text, everywhere) for rel, text in SYNTHETIC.items()]
    found = {code: site.what for module in modules for code, site in module.sites()}
    assert found == {
        "no_data": "class VerdictCode",
        "gate_failed": "reason_code=",
        "service_timeout": '"code":',
        "conflict_in_flight": "code=",
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


def test_the_registry_is_kept_in_alphabetical_order() -> None:
    """New entries go where they sort, so two branches adding codes merge cleanly."""
    listed = [entry.code for entry in codes._CODES]
    assert listed == sorted(listed)
