"""CEL conditions: compilation, the checks done at publish time, and what each reads."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import cel

#: The only variables a condition may use (documented in docs/policies.md).
CEL_VARIABLES: tuple[str, ...] = ("action", "resource", "agent", "request", "context")

#: Functions of the CEL core library shipped by the `cel` package (macros need no entry).
CEL_FUNCTIONS: frozenset[str] = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)

#: Fields a condition reads per variable; None means the whole variable.
FieldNeeds = Mapping[str, frozenset[str] | None]

_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_STRING = re.compile(
    r"""[rRbB]{0,2}(?:'''.*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""",
    re.DOTALL,
)
_VARIABLE_USE = re.compile(
    r"(?<![\w.])(" + "|".join(CEL_VARIABLES) + r")\b\s*(\.\s*(\w+)\s*(\()?)?"
)
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")


class CelError(ValueError):
    """A condition that cannot be published; ``line``/``column`` are within the expression."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class FlatField:
    """``var.a.b`` (or ``has(var.a.b)``) read through its own top-level CEL variable ``name``.

    Converting nested dicts into a CEL context costs about a microsecond per entry, so
    conditions are rewritten at compile time to read flat variables, and only the fields
    they read are bound per request. A field that is absent is left unbound, which is an
    evaluation error exactly where reading the missing key would have been one.
    """

    name: str
    variable: str
    path: tuple[str, ...]
    presence: bool = False
    """True for ``has(...)``: the value is whether the last key exists."""


@dataclass(frozen=True, slots=True)
class CheckedCondition:
    program: cel.Program
    """Compiled from the rewritten source; runs over the flat variables and ``needs``."""
    needs: FieldNeeds
    """Variables bound whole (those not flattened), pruned to the fields they read."""
    flat: tuple[FlatField, ...]


@lru_cache(maxsize=2048)
def compile_condition(source: str) -> CheckedCondition:
    """Compile and check a condition; raises CelError with a human message."""
    if not source.strip():
        raise CelError("the condition is empty")
    try:
        program = cel.compile(source)
    except ValueError as exc:
        raise _syntax_error(str(exc)) from None
    bound = set(_BOUND.findall(_STRING.sub("''", source)))
    unknown_vars = sorted(set(program.variables()) - set(CEL_VARIABLES) - bound)
    if unknown_vars:
        raise CelError(
            f"unknown variable(s) {', '.join(unknown_vars)}; "
            f"conditions may use only {', '.join(CEL_VARIABLES)}"
        )
    unknown_fns = sorted(
        fn for fn in program.functions() if fn[0] not in "_!-@" and fn not in CEL_FUNCTIONS
    )
    if unknown_fns:
        raise CelError(f"unknown function(s) {', '.join(unknown_fns)}")
    return _flattened(source, program, bound)


_HAS = re.compile(
    r"(?<![\w.])has\s*\(\s*(" + "|".join(CEL_VARIABLES) + r")((?:\s*\.\s*[A-Za-z_]\w*){1,2})\s*\)"
)
_CHAIN = re.compile(
    r"(?<![\w.])(" + "|".join(CEL_VARIABLES) + r")((?:\s*\.\s*[A-Za-z_]\w*)+)(\s*\()?"
)
_SEGMENT = re.compile(r"[A-Za-z_]\w*")
MAX_FLAT_DEPTH = 2


def _code_spans(source: str) -> list[tuple[bool, str]]:
    """The source cut into (is_code, text) pieces; string literals are not code."""
    pieces: list[tuple[bool, str]] = []
    last = 0
    for match in _STRING.finditer(source):
        pieces += [(True, source[last : match.start()]), (False, match.group(0))]
        last = match.end()
    return [*pieces, (True, source[last:])]


def _flattened(source: str, program: cel.Program, bound: set[str]) -> CheckedCondition:
    flat: dict[str, FlatField] = {}

    def presence(match: re.Match[str]) -> str:
        path = tuple(_SEGMENT.findall(match.group(2)))
        field = FlatField("has__" + "__".join((match.group(1), *path)), match.group(1), path, True)
        flat[field.name] = field
        return field.name

    def chain(match: re.Match[str]) -> str:
        path = _SEGMENT.findall(match.group(2))
        call = match.group(3) or ""
        if call:  # the last segment is a method called on what precedes it
            path = path[:-1]
        if not path:
            return match.group(0)
        head, rest = tuple(path[:MAX_FLAT_DEPTH]), path[MAX_FLAT_DEPTH:]
        field = FlatField("__".join((match.group(1), *head)), match.group(1), head)
        flat[field.name] = field
        tail = "".join(f".{segment}" for segment in rest)
        method = match.group(2)[match.group(2).rfind(".") :] if call else ""
        return field.name + tail + (method.replace(" ", "") + "(" if call else "")

    if bound & set(CEL_VARIABLES):  # a macro rebinds a documented name: leave it alone
        return CheckedCondition(program, field_needs(source), ())
    rewritten = "".join(
        _CHAIN.sub(chain, _HAS.sub(presence, text)) if code else text
        for code, text in _code_spans(source)
    )
    leftover = field_needs(rewritten)
    try:
        flat_program = cel.compile(rewritten)
    except ValueError:  # cannot happen for a valid source; keep the original to be safe
        return CheckedCondition(program, field_needs(source), ())
    return CheckedCondition(flat_program, leftover, tuple(flat.values()))


#: Types a variable resolver may hand to CEL as they are: converted exactly as
#: ``cel.Context`` converts variables, and never failing (see ``resolvable``).
PLAIN_TYPES: frozenset[type] = frozenset({bool, int, float})


def resolvable(value: Any) -> bool:
    """Whether CEL converts ``value`` without fail, so it can be resolved on demand.

    ``None`` cannot be (a resolver returning None means "not mine"), nor a value CEL cannot
    represent: a string with lone surrogates, a datetime whose tzinfo is not a fixed
    offset (e.g. a ZoneInfo), a container holding anything of the kind.
    """
    kind = type(value)
    if kind is str:
        return value.isascii() or utf8(value)
    if kind is datetime:
        return value.tzinfo is None or type(value.tzinfo) is timezone
    return kind in PLAIN_TYPES


def utf8(text: str) -> bool:
    """Whether ``text`` can be encoded (CEL cannot represent lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def cel_context(bound: dict[str, Any], scalar: bool) -> cel.Context:
    """A CEL context over ``bound``; plain scalars are converted only if a condition reads them.

    Anything else goes through ``cel.Context(variables=...)``, which converts every value up
    front and raises on one it cannot represent, as before.
    """
    if not scalar:
        return cel.Context(variables=bound)
    context = cel.Context()
    context.set_variable_resolver(bound.get)
    return context


_MISSING: dict[str, Any] = {}


def bind(
    flat: tuple[FlatField, ...], needs: FieldNeeds, variable: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """The CEL variables for one request; ``variable(name)`` builds a documented variable."""
    roots: dict[str, dict[str, Any]] = {}
    bound: dict[str, Any] = {}
    for field in flat:
        root = roots.get(field.variable)
        if root is None:
            root = roots[field.variable] = variable(field.variable)
        value: Any = root
        try:
            for key in field.path[:-1] if field.presence else field.path:
                value = value[key] if isinstance(value, dict | Mapping) else _MISSING[key]
        except KeyError:
            continue  # left unbound: reading it is an evaluation error, as in plain CEL
        if not field.presence:
            bound[field.name] = value
        elif isinstance(value, dict | Mapping):
            bound[field.name] = field.path[-1] in value
    for name, fields in needs.items():
        full = roots.get(name) or variable(name)
        bound[name] = full if fields is None else {k: full[k] for k in fields if k in full}
    return bound


_FLAT_NAME = re.compile(r"\b(?:has__)?(" + "|".join(CEL_VARIABLES) + r")((?:__[A-Za-z0-9]\w*?)+)\b")


def unflatten_names(text: str) -> str:
    """Error messages name fields as written (``request.amount``), not as flattened."""
    return _FLAT_NAME.sub(lambda m: m.group(1) + m.group(2).replace("__", "."), text)


def _syntax_error(raw: str) -> CelError:
    match = _POSITION.search(raw)
    if match is None:
        return CelError(f"invalid CEL: {raw.splitlines()[0] if raw else 'syntax error'}")
    line, column = int(match.group(1)), int(match.group(2))
    detail = match.group(3).split(" expecting {")[0].strip()
    return CelError(
        f"invalid CEL at {line}:{column} of the expression: {detail}", line=line, column=column
    )


def field_needs(source: str) -> dict[str, frozenset[str] | None]:
    """Which fields of each variable the expression may read (None = all of it).

    Conservative: any use other than ``var.field`` (indexing, passing the variable
    around, calling a method on it) needs the whole variable. Only used to keep the
    per-request CEL context small; it never changes what an expression evaluates to.
    """
    needs: dict[str, set[str] | None] = {}
    for match in _VARIABLE_USE.finditer(_STRING.sub("''", source)):
        name, field, call = match.group(1), match.group(3), match.group(4)
        current = needs.get(name, set())
        if field is None or call is not None or current is None:
            needs[name] = None
        else:
            current.add(field)
            needs[name] = current
    return {name: None if fields is None else frozenset(fields) for name, fields in needs.items()}


def merge_needs(all_needs: list[FieldNeeds]) -> dict[str, frozenset[str] | None]:
    merged: dict[str, frozenset[str] | None] = {}
    for needs in all_needs:
        for name, fields in needs.items():
            if fields is None or (name in merged and merged[name] is None):
                merged[name] = None
            else:
                merged[name] = (merged.get(name) or frozenset()) | fields
    return merged
