"""The glob dialect of policies: validation, matching and language inclusion.

Syntax: ``*`` any run of characters (``/`` and ``.`` included), ``?`` one character,
``[abc]`` / ``[a-z]`` / ``[!abc]`` one character of (not of) a class. Matching is
case-sensitive and anchored at both ends. There is no escape character.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

MAX_GLOB_LENGTH = 256
_MAX_CODEPOINT = 0x10FFFF


class GlobError(ValueError):
    """A pattern that is not a valid glob; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "lit" | "any" | "star" | "class"
    intervals: tuple[tuple[int, int], ...] = ()  # inclusive code point ranges ("lit", "class")
    negated: bool = False

    def accepts(self, code: int) -> bool:
        if self.kind in ("any", "star"):
            return True
        inside = any(lo <= code <= hi for lo, hi in self.intervals)
        return inside != self.negated


def _parse_class(pattern: str, start: int) -> tuple[_Token, int]:
    end = pattern.find("]", start + 1)
    if end < 0:
        raise GlobError(f"unclosed '[' at position {start + 1}")
    body = pattern[start + 1 : end]
    negated = body.startswith("!")
    if negated:
        body = body[1:]
    if not body:
        raise GlobError(f"empty character class at position {start + 1}")
    intervals: list[tuple[int, int]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = ord(body[i]), ord(body[i + 2])
            if lo > hi:
                raise GlobError(f"reversed range '{body[i : i + 3]}' at position {start + 2 + i}")
            intervals.append((lo, hi))
            i += 3
        else:
            intervals.append((ord(body[i]), ord(body[i])))
            i += 1
    return _Token("class", tuple(intervals), negated), end + 1


@lru_cache(maxsize=4096)
def _tokens(pattern: str) -> tuple[_Token, ...]:
    if not pattern:
        raise GlobError("empty pattern")
    if len(pattern) > MAX_GLOB_LENGTH:
        raise GlobError(f"longer than {MAX_GLOB_LENGTH} characters")
    if pattern != pattern.strip():
        raise GlobError("leading or trailing whitespace")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in pattern):
        raise GlobError("control character")
    tokens: list[_Token] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if not tokens or tokens[-1].kind != "star":
                tokens.append(_Token("star"))
            i += 1
        elif ch == "?":
            tokens.append(_Token("any"))
            i += 1
        elif ch == "[":
            token, i = _parse_class(pattern, i)
            tokens.append(token)
        else:
            if ch == "]":
                raise GlobError(f"unopened ']' at position {i + 1}")
            tokens.append(_Token("lit", ((ord(ch), ord(ch)),)))
            i += 1
    return tuple(tokens)


def glob_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid glob, or None when it is."""
    try:
        _tokens(pattern)
    except GlobError as exc:
        return str(exc)
    return None


def is_literal(pattern: str) -> bool:
    """True when the pattern matches exactly one string (itself)."""
    return not any(ch in "*?[" for ch in pattern)


def _token_regex(token: _Token) -> str:
    if token.kind == "star":
        return ".*"
    if token.kind == "any":
        return "."
    if token.kind == "lit":
        return re.escape(chr(token.intervals[0][0]))
    parts = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in token.intervals
    )
    return f"[{'^' if token.negated else ''}{parts}]"


def glob_regex_source(pattern: str) -> str:
    """The regular expression (unanchored source) equivalent to a glob."""
    return "".join(_token_regex(token) for token in _tokens(pattern))


@lru_cache(maxsize=4096)
def compile_globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One anchored regex matching any of ``patterns`` (raises GlobError on a bad one)."""
    if not patterns:
        return re.compile(r"(?!)")
    body = "|".join(f"(?:{glob_regex_source(p)})" for p in patterns)
    return re.compile(f"(?s:{body})\\Z")


def glob_matches(pattern: str, text: str) -> bool:
    return compile_globs((pattern,)).match(text) is not None


def _alphabet(tokens: tuple[_Token, ...]) -> list[int]:
    """One representative code point per class of characters no token tells apart."""
    bounds = {0}
    for token in tokens:
        for lo, hi in token.intervals:
            bounds.add(lo)
            if hi < _MAX_CODEPOINT:
                bounds.add(hi + 1)
    return sorted(bounds)


def _closure(tokens: tuple[_Token, ...], states: set[int]) -> frozenset[int]:
    todo = list(states)
    seen = set(states)
    while todo:
        state = todo.pop()
        if state < len(tokens) and tokens[state].kind == "star" and state + 1 not in seen:
            seen.add(state + 1)
            todo.append(state + 1)
    return frozenset(seen)


def _step(tokens: tuple[_Token, ...], states: frozenset[int], code: int) -> frozenset[int]:
    following: set[int] = set()
    for state in states:
        if state < len(tokens) and tokens[state].accepts(code):
            following.add(state if tokens[state].kind == "star" else state + 1)
    return _closure(tokens, following)


@lru_cache(maxsize=4096)
def glob_subsumes(outer: str, inner: str) -> bool:
    """True when every string ``inner`` matches is also matched by ``outer``."""
    outer_tokens, inner_tokens = _tokens(outer), _tokens(inner)
    alphabet = _alphabet(outer_tokens + inner_tokens)
    start = (_closure(inner_tokens, {0}), _closure(outer_tokens, {0}))
    seen = {start}
    queue = deque([start])
    while queue:
        inner_states, outer_states = queue.popleft()
        if len(inner_tokens) in inner_states and len(outer_tokens) not in outer_states:
            return False
        for code in alphabet:
            nxt = (_step(inner_tokens, inner_states, code), _step(outer_tokens, outer_states, code))
            if nxt[0] and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return True
