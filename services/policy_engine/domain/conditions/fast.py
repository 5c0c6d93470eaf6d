"""A shortcut for the simplest conditions: answered in Python when the answer is certain.

Most conditions are comparisons of request fields with literals joined by ``&&`` / ``||``
(``request.rows > 1000``, ``has(request.tag) && request.tag == 'x'``). Running one through
CEL costs a context and a program execution; this module compiles the flattened source of
such a condition into a Python function over the bound variables that returns

- True or False, when every operand it reads has exactly the type the operation is
  defined on (int with int, double with double, string with string, bool in logic), so no
  error is possible and CEL's answer is the same;
- None otherwise (a field missing or of another type, a NaN, an int out of range ...):
  the caller then runs the CEL program, which gives the answer or the error.

Anything outside the small grammar below is not compiled (``compile_fast`` returns None)
and always runs through CEL::

    expr     := and ("||" and)*
    and      := relation ("&&" relation)*
    relation := unary (("==" | "!=" | "<" | "<=" | ">" | ">=") unary)?
    unary    := "!" unary | primary
    primary  := NAME | NAME "." ("startsWith" | "endsWith" | "contains") "(" STRING ")"
              | INT | DOUBLE | STRING | "true" | "false" | "(" expr ")"

``NAME`` must be one of the flattened field names the condition reads (no functions, no
macros, no comprehension variables); strings have no escapes, numbers no sign, exponent,
suffix or leading zero.

The function is generated as one Python expression (a call per condition, not per
operator); every name and literal of the condition reaches it as a constant, never as
source text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

#: The answer for the bound variables, or None when CEL must decide.
Fast = Callable[[dict[str, Any]], bool | None]

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_MAX_TOKENS = 64
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<double>(?:0|[1-9]\d*)\.\d+)(?![\w.])
    | (?P<int>0|[1-9]\d*)(?![\w.])
    | '(?P<sq>[^'\\\n\r]*)'
    | "(?P<dq>[^"\\\n\r]*)"
    | (?P<name>[A-Za-z_]\w*)
    | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\.)
    )""",
    re.VERBOSE,
)
_RELATIONS = ("==", "!=", "<", "<=", ">", ">=")
_ORDERED = (int, float, str)
#: A string method and its Python expression over the value ``{v}`` and argument ``{a}``.
_METHODS = {
    "startsWith": "{v}.startswith({a})",
    "endsWith": "{v}.endswith({a})",
    "contains": "({a} in {v})",
}
#: When a value read as ``{v}`` is of ``kind`` and CEL treats it exactly like Python:
#: ints within 64 bits, doubles but NaN (CEL does not order it).
_TYPED = {
    int: "type({v} := get({n}, _M)) is int and _MIN <= {v} <= _MAX",
    float: "type({v} := get({n}, _M)) is float and {v} == {v}",
    str: "type({v} := get({n}, _M)) is str",
    bool: "type({v} := get({n}, _M)) is bool",
}
_MISSING = object()


class _Unsupported(Exception):
    """The source is outside the grammar: no shortcut."""


def _plain(value: Any) -> Any:
    """``value`` if CEL compares it exactly as Python does, else _MISSING."""
    kind = type(value)
    if kind is int:
        return value if _INT_MIN <= value <= _INT_MAX else _MISSING
    if kind is float:
        return value if value == value else _MISSING
    if kind is str or kind is bool:
        return value
    return _MISSING


def _names_relation(op: str) -> Callable[[Any, Any], bool | None]:
    """The comparison of two fields (their types are known only at run time)."""
    ordering = op not in ("==", "!=")
    compare: Callable[[Any, Any], bool] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]

    def relation(left: Any, right: Any) -> bool | None:
        a, b = _plain(left), _plain(right)
        kind = type(a)
        if a is _MISSING or type(b) is not kind or (ordering and kind is bool):
            return None
        return compare(a, b)

    return relation


# Operands are ("name", field) | ("literal", value) | ("method", expression); logic is
# ("logic", expression). Expressions are Python source evaluating to True, False or None.
Node = tuple[str, Any]


class _Compiler:
    def __init__(self, tokens: list[Node], names: frozenset[str]) -> None:
        self.tokens = tokens
        self.names = names
        self.at = 0
        self.constants: dict[str, Any] = {}
        self.temps = 0

    # emitting

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def truth(self, node: Node) -> str:
        kind, value = node
        if kind == "logic":
            return cast(str, value)
        if kind == "method":
            return cast(str, value)
        if kind == "literal":
            if type(value) is not bool:
                raise _Unsupported("a literal that is not a bool")
            return "True" if value else "False"
        v = self.temp()
        typed = _TYPED[bool].format(v=v, n=self.constant(value))
        return f"({v} if {typed} else None)"

    def relation(self, op: str, left: Node, right: Node) -> str:
        if left[0] == "literal" and right[0] == "literal":
            raise _Unsupported("a comparison of two literals")
        if left[0] == "name" and right[0] == "name":
            helper = self.constant(_names_relation(op))
            return (
                f"{helper}(get({self.constant(left[1])}, _M), get({self.constant(right[1])}, _M))"
            )
        flipped = left[0] == "literal"
        name, literal = (right[1], left[1]) if flipped else (left[1], right[1])
        kind = type(literal)
        if op not in ("==", "!=") and kind not in _ORDERED:
            raise _Unsupported("ordering of booleans")
        v, c = self.temp(), self.constant(literal)
        typed = _TYPED[kind].format(v=v, n=self.constant(name))
        compared = f"{c} {op} {v}" if flipped else f"{v} {op} {c}"
        return f"(({compared}) if {typed} else None)"

    # parsing

    def peek(self) -> Node | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.at += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.take(op):
            raise _Unsupported(f"expected {op}")

    def whole(self) -> str:
        expression = self.expr()
        if self.peek() is not None:
            raise _Unsupported("trailing tokens")
        return expression

    def expr(self) -> str:
        expression = self.conjunction()
        while self.take("||"):
            t = self.temp()
            right = self.conjunction()
            expression = f"({right} if ({t} := {expression}) is False else {t})"
        return expression

    def conjunction(self) -> str:
        expression = self.relation_or_operand()
        while self.take("&&"):
            t = self.temp()
            right = self.relation_or_operand()
            expression = f"({right} if ({t} := {expression}) is True else {t})"
        return expression

    def relation_or_operand(self) -> str:
        left = self.unary()
        token = self.peek()
        if token is None or token[0] != "op" or token[1] not in _RELATIONS:
            return self.truth(left)
        self.at += 1
        right = self.unary()
        if left[0] not in ("name", "literal") or right[0] not in ("name", "literal"):
            raise _Unsupported("a comparison of anything but fields and literals")
        following = self.peek()
        if following is not None and following[0] == "op" and following[1] in _RELATIONS:
            raise _Unsupported("chained comparisons")
        return self.relation(token[1], left, right)

    def unary(self) -> Node:
        if self.take("!"):
            t = self.temp()
            inner = self.truth(self.unary())
            return ("logic", f"(None if ({t} := {inner}) is None else not {t})")
        if self.take("("):
            inner = self.expr()
            self.expect(")")
            return ("logic", inner)
        token = self.peek()
        if token is None:
            raise _Unsupported("unexpected end")
        self.at += 1
        kind, value = token
        if kind == "literal":
            return token
        if kind != "name" or value not in self.names:
            raise _Unsupported(f"unexpected {value!r}")
        if not self.take("."):
            return ("name", value)
        method = self.peek()
        if method is None or method[0] != "name" or method[1] not in _METHODS:
            raise _Unsupported("not a string method")
        self.at += 1
        self.expect("(")
        argument = self.peek()
        if argument is None or argument[0] != "literal" or type(argument[1]) is not str:
            raise _Unsupported("a method argument that is not a string literal")
        self.at += 1
        self.expect(")")
        v = self.temp()
        typed = _TYPED[str].format(v=v, n=self.constant(value))
        call = _METHODS[method[1]].format(v=v, a=self.constant(argument[1]))
        return ("method", f"({call} if {typed} else None)")


def _tokens(source: str) -> list[Node]:
    tokens: list[Node] = []
    position = 0
    while source[position:].strip():
        match = _TOKEN.match(source, position)
        if match is None:
            raise _Unsupported(f"unexpected text at {position}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "double":
            tokens.append(("literal", float(text)))
        elif kind == "int":
            number = int(text)
            if number > _INT_MAX:
                raise _Unsupported("an int literal out of range")
            tokens.append(("literal", number))
        elif kind in ("sq", "dq"):
            tokens.append(("literal", text))
        elif kind == "name" and text in ("true", "false"):
            tokens.append(("literal", text == "true"))
        else:
            tokens.append((kind, text))
        if len(tokens) > _MAX_TOKENS:
            raise _Unsupported("too long")
        position = match.end()
    return tokens


@lru_cache(maxsize=4096)
def compile_fast(source: str, names: frozenset[str]) -> Fast | None:
    """The shortcut of a flattened condition reading the variables ``names``, if it has one."""
    try:
        compiler = _Compiler(_tokens(source), names)
        expression = compiler.whole()
    except _Unsupported:
        return None
    namespace: dict[str, Any] = {
        **compiler.constants,
        "_M": _MISSING,
        "_MIN": _INT_MIN,
        "_MAX": _INT_MAX,
    }
    code = f"def fast(bound):\n    get = bound.get\n    return {expression}\n"
    try:
        exec(compile(code, f"<condition {source!r}>", "exec"), namespace)  # noqa: S102
    except (SyntaxError, RecursionError, MemoryError):  # nested too deep for Python
        return None
    return cast(Fast, namespace["fast"])
