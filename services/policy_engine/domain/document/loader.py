"""Parse a policy from YAML or JSON text, reporting every problem with its line and column."""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml import MarkedYAMLError as LibyamlError

from policy_engine.domain.document.parse_limits import (
    DEFAULT_LIMITS,
    LimitExceeded,
    ParseLimits,
    scan_json,
    scan_yaml,
)
from policy_engine.domain.document.schema import PolicyDocument

DOCS = "docs/policies.md"

PathPart = str | int
Path = tuple[PathPart, ...]
Position = tuple[int, int]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a policy; ``line`` and ``column`` are 1-based (None when unknown)."""

    path: str
    line: int | None
    column: int | None
    message: str
    remediation: str
    code: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PolicyInvalid(ValueError):
    """The policy text does not describe a valid policy; ``issues`` lists every problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        first = self.issues[0] if self.issues else None
        where = f" (first: {first.path or '<document>'}: {first.message})" if first else ""
        super().__init__(f"{len(self.issues)} problem(s) in the policy{where}")


def format_path(path: Iterable[PathPart]) -> str:
    """``spec.rules[0].condition``; keys that are not identifiers are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


_PATH_PART = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def parse_path(text: str) -> Path:
    """The parts of a ``format_path`` text (an unreadable tail is dropped)."""
    parts: list[PathPart] = []
    position = 0
    while match := _PATH_PART.match(text, position):
        name, index, quoted = match.groups()
        parts.append(name if name is not None else int(index) if index else json.loads(quoted))
        position = match.end()
    return tuple(parts)


class SourceMap:
    """Where each key and value of a parsed document sits in its text."""

    def __init__(self, keys: dict[Path, Position], values: dict[Path, Position]) -> None:
        self._keys = keys
        self._values = values

    @classmethod
    def empty(cls) -> SourceMap:
        return cls({}, {})

    def locate(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """Position of ``path`` (its key when ``key``), else of its nearest located ancestor."""
        table = self._keys if key else self._values
        if path in table:
            return table[path]
        for end in range(len(path) - 1, -1, -1):
            prefix = path[:end]
            found = self._keys.get(prefix) or self._values.get(prefix)
            if found is not None:
                return found
        return (None, None) if not self._values else (1, 1)


def parse_policy(
    text: str,
    *,
    content_type: Literal["yaml", "json"] = "yaml",
    limits: ParseLimits = DEFAULT_LIMITS,
) -> PolicyDocument:
    """Parse and validate a policy; raises PolicyInvalid listing every problem, LimitExceeded
    (before any recursive parse) when the text is too large, too deep or too alias-expanded."""
    return parse_policy_located(text, content_type=content_type, limits=limits)[0]


def parse_policy_located(
    text: str,
    *,
    content_type: Literal["yaml", "json"] = "yaml",
    limits: ParseLimits = DEFAULT_LIMITS,
) -> tuple[PolicyDocument, SourceMap]:
    """Like parse_policy, also returning where each field sits (for later checks)."""
    try:
        return _parse_located(text, content_type, limits)
    except RecursionError:  # the scans bound depth first; this is the net under them
        raise LimitExceeded(
            "max_depth", limits.max_depth, "the text nests too deep to parse"
        ) from None


def _parse_located(
    text: str, content_type: Literal["yaml", "json"], limits: ParseLimits
) -> tuple[PolicyDocument, SourceMap]:
    if content_type == "json":
        raw, source, issues = _load_json(text, limits)
    else:
        raw, source, issues = _load_yaml(text, limits)
    if raw is _UNPARSED:
        raise PolicyInvalid(issues)
    issues += _duplicate_rule_ids(raw, source)
    document: PolicyDocument | None = None
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        reported = {issue.code for issue in issues}
        issues += [
            _issue_from_error(error, source)
            for error in exc.errors()
            if not (error["type"] == "duplicate_rule_id" and "duplicate_rule_id" in reported)
        ]
    if issues or document is None:
        raise PolicyInvalid(sort_issues(issues))
    return document, source


_UNPARSED: Any = object()


def _document_issue(code: str, message: str, remediation: str = "") -> Issue:
    return Issue("", None, None, message, remediation or f"see {DOCS}", code)


def sort_issues(issues: list[Issue]) -> list[Issue]:
    """Issues in document order (unpositioned ones last), without duplicates."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (i.line is None, i.line or 0, i.column or 0, i.path))


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    return yaml


def _load_yaml(text: str, limits: ParseLimits) -> tuple[Any, SourceMap, list[Issue]]:
    try:
        scan_yaml(text, limits)
    except LibyamlError as exc:
        return _UNPARSED, SourceMap.empty(), [_syntax_issue(exc)]
    if not text.strip():
        return _UNPARSED, SourceMap.empty(), [_document_issue("empty", "the policy is empty")]
    try:
        yaml = _yaml()
        node = yaml.compose(text)
        data = yaml.constructor.construct_document(node) if node is not None else None
    except MarkedYAMLError as exc:
        return _UNPARSED, SourceMap.empty(), [_syntax_issue(exc)]
    except YAMLError as exc:
        return _UNPARSED, SourceMap.empty(), [_document_issue("yaml_syntax", str(exc))]
    source, duplicates = _map_nodes(node)
    return _plain(data), source, duplicates


def _syntax_issue(exc: MarkedYAMLError | LibyamlError) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(p for p in (exc.problem, exc.context) if p) or "invalid YAML"
    return Issue(
        "",
        mark.line + 1 if mark else None,
        mark.column + 1 if mark else None,
        f"invalid YAML: {problem}",
        "fix the YAML syntax at this position (indentation, brackets, quotes, ':' after keys)",
        "yaml_syntax",
    )


def _load_json(text: str, limits: ParseLimits) -> tuple[Any, SourceMap, list[Issue]]:
    scan_json(text, limits)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        issue = Issue(
            "",
            exc.lineno,
            exc.colno,
            f"invalid JSON: {exc.msg}",
            "fix the JSON syntax",
            "json_syntax",
        )
        return _UNPARSED, SourceMap.empty(), [issue]
    try:  # JSON is YAML 1.2, so the YAML composer knows where everything is
        source, duplicates = _map_nodes(_yaml().compose(text))
    except YAMLError:
        source, duplicates = SourceMap.empty(), []
    return data, source, duplicates


def _map_nodes(root: Node | None) -> tuple[SourceMap, list[Issue]]:
    keys: dict[Path, Position] = {}
    values: dict[Path, Position] = {}
    duplicates: list[Issue] = []
    for path, key_node, value_node in _walk(root, (), None, set()):
        if key_node is not None:
            if path in keys:
                duplicates.append(_duplicate_key(path, key_node))
                continue
            keys[path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        values[path] = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
    return SourceMap(keys, values), duplicates


def _walk(
    node: Node | None, path: Path, key: Node | None, active: set[int]
) -> Iterator[tuple[Path, Node | None, Node]]:
    if node is None or id(node) in active:  # aliases may form cycles
        return
    yield path, key, node
    active = active | {id(node)}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else str(key_node.value)
            yield from _walk(value_node, (*path, name), key_node, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index), None, active)


def _duplicate_key(path: Path, key_node: Node) -> Issue:
    return Issue(
        format_path(path),
        key_node.start_mark.line + 1,
        key_node.start_mark.column + 1,
        f"duplicate key '{path[-1]}'",
        "keep one entry per key; merge the values into it",
        "duplicate_key",
    )


def _plain(value: Any) -> Any:
    """ruamel's round-trip types as plain Python values (pydantic's strict types want these)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    for plain_type in (int, float, str):
        if isinstance(value, plain_type):
            return plain_type(value)
    if isinstance(value, datetime):
        return datetime(
            *(value.year, value.month, value.day, value.hour, value.minute, value.second),
            value.microsecond,
            tzinfo=value.tzinfo,
        )
    return value


def _duplicate_rule_ids(raw: Any, source: SourceMap) -> list[Issue]:
    rules = raw.get("spec", {}).get("rules") if isinstance(raw, dict) else None
    if not isinstance(rules, list) or not isinstance(raw.get("spec"), dict):
        return []
    seen: set[str] = set()
    issues: list[Issue] = []
    for index, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if not isinstance(rule_id, str):
            continue
        if rule_id in seen:
            path: Path = ("spec", "rules", index, "id")
            line, column = source.locate(path)
            issues.append(
                Issue(
                    format_path(path),
                    line,
                    column,
                    f"rule id '{rule_id}' is used twice",
                    "give every rule its own id",
                    "duplicate_rule_id",
                )
            )
        seen.add(rule_id)
    return issues


def _issue_from_error(error: ErrorDetails, source: SourceMap) -> Issue:
    loc: Path = tuple(error["loc"])
    at_key = error["type"] == "extra_forbidden"
    if loc and loc[-1] == "[key]":
        loc, at_key = loc[:-1], True
    line, column = source.locate(loc, key=at_key)
    return Issue(
        format_path(loc),
        line,
        column,
        _message(error, loc),
        _remediation(error, loc),
        error["type"],
    )


def _message(error: ErrorDetails, loc: Path) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field '{loc[-1]}'"
    if kind == "missing":
        return f"missing required field '{loc[-1]}'"
    if kind.endswith("_type") or kind in ("literal_error", "string_pattern_mismatch"):
        return f"{error['msg']} (got {_shown(error['input'])})"
    return str(error["msg"])


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_HINTS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string (quote it if YAML reads it as something else)",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping of key: value",
    "model_type": "a mapping of key: value",
    "model_attributes_type": "a mapping of key: value",
}


def _remediation(error: ErrorDetails, loc: Path) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if "remediation" in ctx:
        return str(ctx["remediation"])
    if kind == "extra_forbidden":
        return _unknown_field_hint(loc)
    if kind == "missing":
        return f"add '{loc[-1]}' (see {DOCS})"
    if kind in _TYPE_HINTS:
        return f"use {_TYPE_HINTS[kind]}"
    if kind == "literal_error":
        return f"use one of: {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"use a value matching {ctx.get('pattern', '')} (see {DOCS})"
    if kind == "too_short":
        return f"give at least {ctx.get('min_length', 1)} item(s)"
    if kind in (
        "timezone_aware",
        "datetime_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
    ):
        return "use an ISO 8601 timestamp with a timezone, e.g. 2026-01-01T00:00:00Z"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"use a value {error['msg'].removeprefix('Input should be ')}"
    return f"see {DOCS}"


def _unknown_field_hint(loc: Path) -> str:
    model = _model_at(loc[:-1])
    known = sorted(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"remove '{loc[-1]}' or rename it; did you mean '{close[0]}'?"
    if known:
        return f"remove '{loc[-1]}'; fields allowed here: {', '.join(known)}"
    return f"remove '{loc[-1]}'"


def _model_at(path: Path) -> type[BaseModel] | None:
    model: type[BaseModel] | None = PolicyDocument
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _find_model(model.model_fields[part].annotation)
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin in (tuple, list, Union, types.UnionType) or origin is not None:
        for arg in get_args(annotation):
            found = _find_model(arg)
            if found is not None:
                return found
    return None
