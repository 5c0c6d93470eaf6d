"""Bounds on policy text, checked in linear time before anything recursive reads it.

A YAML or JSON parser builds a tree by recursion, and YAML aliases let a small text describe
an exponentially large one ("billion laughs"). So the size is checked first, then one linear
pass stops at the first nesting level, alias or node past its limit: for YAML, libyaml's event
stream (C, and a state machine rather than a recursion; ruamel's pure-Python scanner looks up
to 1,024 characters ahead at every open bracket, 0.5 s for 20 KB of ``[[[[``); for JSON, a scan
of the brackets outside strings. Only a text that passes is composed, constructed, validated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)

LimitName = Literal["max_bytes", "max_depth", "max_aliases", "max_nodes"]


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """How large, how deep and how alias-expanded a policy text (or wizard body) may be."""

    max_bytes: int = 131_072
    max_depth: int = 32
    max_aliases: int = 100
    max_nodes: int = 50_000


DEFAULT_LIMITS = ParseLimits()


class LimitExceeded(ValueError):
    """The text passes one of its ``ParseLimits``; ``line``/``column`` are 1-based when known."""

    def __init__(
        self,
        limit: LimitName,
        value: int,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.limit = limit
        self.value = value
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message)


def check_size(text: str | bytes, limits: ParseLimits) -> None:
    size = len(text) if isinstance(text, bytes) else _utf8_length(text, limits.max_bytes)
    if size > limits.max_bytes:
        raise LimitExceeded(
            "max_bytes",
            limits.max_bytes,
            f"the text is {size} bytes, more than the limit of {limits.max_bytes}",
        )


def _utf8_length(text: str, limit: int) -> int:
    # A character is at least one byte: only a text near the limit needs encoding to tell.
    return len(text) if len(text) > limit or len(text) * 4 <= limit else len(text.encode())


def _too_deep(limits: ParseLimits, line: int | None, column: int | None) -> LimitExceeded:
    return LimitExceeded(
        "max_depth",
        limits.max_depth,
        f"the text nests more than {limits.max_depth} levels deep",
        line=line,
        column=column,
    )


class _YamlScan:
    """Depth, alias count and expanded node count of a YAML event stream, as it streams."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.aliases = 0
        self.nodes = 0
        # Open collections: their anchor and how many nodes they expand to so far.
        self.open: list[tuple[str | None, int]] = []
        self.sizes: dict[str, int] = {}

    def feed(self, event: Event) -> None:
        if isinstance(event, CollectionStartEvent):
            if len(self.open) >= self.limits.max_depth:
                raise _too_deep(self.limits, *_position(event))
            self.open.append((event.anchor, 1))
            self.count(event, 1)
        elif isinstance(event, CollectionEndEvent):
            anchor, size = self.open.pop()
            if anchor is not None:
                self.sizes[anchor] = size
            self.grow(size)
        elif isinstance(event, ScalarEvent):
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
            self.count(event, 1)
            self.grow(1)
        elif isinstance(event, AliasEvent):
            self.alias(event)

    def alias(self, event: AliasEvent) -> None:
        self.aliases += 1
        if self.aliases > self.limits.max_aliases:
            raise LimitExceeded(
                "max_aliases",
                self.limits.max_aliases,
                f"the text uses more than {self.limits.max_aliases} aliases (*name)",
                line=_position(event)[0],
                column=_position(event)[1],
            )
        if any(anchor == event.anchor for anchor, _ in self.open):
            # An alias inside its own anchor describes an infinite document.
            self.count(event, self.limits.max_nodes + 1)
        size = self.sizes.get(str(event.anchor), 1)
        self.count(event, size)
        self.grow(size)

    def count(self, event: Event, size: int) -> None:
        self.nodes += size
        if self.nodes > self.limits.max_nodes:
            line, column = _position(event)
            raise LimitExceeded(
                "max_nodes",
                self.limits.max_nodes,
                f"the text expands to more than {self.limits.max_nodes} values "
                "(counting each alias as a copy of what it refers to)",
                line=line,
                column=column,
            )

    def grow(self, size: int) -> None:
        if self.open:
            anchor, total = self.open[-1]
            self.open[-1] = (anchor, total + size)


def _position(event: Event) -> tuple[int | None, int | None]:
    return _mark(event.start_mark)


class _Mark(Protocol):
    line: int
    column: int


def _mark(mark: _Mark | None) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def scan_yaml(text: str, limits: ParseLimits) -> None:
    """Raise LimitExceeded at the first limit the YAML passes, ``yaml.MarkedYAMLError`` at its
    first syntax error (what libyaml refuses is never handed to the slower parser)."""
    check_size(text, limits)
    scan = _YamlScan(limits)
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            scan.feed(event)
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own cap, 1,000 levels
            raise _too_deep(limits, *_mark(exc.problem_mark)) from None
        raise


# A JSON string (escapes included), or one bracket. The string alternative is the unrolled
# loop ``[^"\\]*(?:\\.[^"\\]*)*``, which cannot backtrack.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def scan_json(text: str, limits: ParseLimits) -> None:
    """Raise LimitExceeded when the JSON is too large or nests too deep (one linear pass)."""
    check_size(text, limits)
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        bracket = match.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > limits.max_depth:
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                raise _too_deep(limits, line, column)
        elif bracket in ("]", "}"):
            depth = max(depth - 1, 0)


def load_json(raw: bytes, limits: ParseLimits) -> Any:
    """``json.loads`` of a body within ``limits``; raises LimitExceeded or ValueError."""
    check_size(raw, limits)
    text = raw.decode("utf-8")
    scan_json(text, limits)
    return json.loads(text)
