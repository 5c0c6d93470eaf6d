"""Scanning a JSON-like payload under a size, depth and time cap."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from policy_engine.domain.pii.model import Entity, Finding
from policy_engine.domain.pii.secrets import secret_under_key
from policy_engine.domain.pii.text import NO_NAMES, scan_text_under, without_overlaps

MAX_DEPTH = 128
_CHUNK = 64 * 1024  # long strings are scanned in windows so that a deadline can stop them
_OVERLAP = 16 * 1024  # longer than any entity (a PEM RSA-4096 key is about 3.3 KB)

Path = tuple[str | int, ...]
Clock = Callable[[], float]


class StopReason(StrEnum):
    MAX_BYTES = "max_bytes"
    MAX_DEPTH = "max_depth"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class LocatedFinding:
    """A finding in the string at ``path``: dict keys and list indexes from the root.

    A dict key that itself contains a finding appears in paths as its position in the dict
    (an ``int``), so a scan never holds raw PII. With ``in_key`` the finding is in that key
    (the last step of ``path``) rather than in its value.
    """

    path: Path
    finding: Finding
    in_key: bool = False


@dataclass(frozen=True, slots=True)
class PayloadScan:
    """What a payload contains; ``oversize`` means scanning stopped and findings are partial."""

    findings: tuple[LocatedFinding, ...]
    findings_by_entity: Mapping[Entity, int]
    oversize: bool
    stopped: StopReason | None = None

    @classmethod
    def of(cls, findings: list[LocatedFinding], stopped: StopReason | None = None) -> PayloadScan:
        if not findings and stopped is None:
            return CLEAN  # most payloads: no allocation at all
        counts: dict[Entity, int] = {}
        for located in findings:
            entity = located.finding.entity
            counts[entity] = counts.get(entity, 0) + 1
        return cls(tuple(findings), MappingProxyType(counts), stopped is not None, stopped)


CLEAN = PayloadScan((), MappingProxyType({}), oversize=False)
"""The scan of a payload without findings."""


def _too_big(payload: object, max_bytes: int) -> StopReason | None:
    """Why the payload may not be scanned: its compact-JSON size (escapes not counted) or its
    nesting. Stops counting as soon as a cap is passed; raises TypeError for non-JSON values."""
    size, stack = 0, [(payload, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return StopReason.MAX_DEPTH
        if isinstance(value, str):
            size += 2 + (len(value) if value.isascii() else len(value.encode()))
        elif isinstance(value, dict):
            size += 1 + 2 * len(value)  # braces, colons, commas
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"payload keys must be strings, not {type(key).__name__}")
                size += 2 + len(key.encode())
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            size += 1 + max(len(value), 1)
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, bool) or value is None:
            size += 5
        elif isinstance(value, int | float):
            size += len(repr(value))
        else:
            raise TypeError(f"not a JSON-like value: {type(value).__name__}")
        if size > max_bytes:
            return StopReason.MAX_BYTES
    return None


class _DeadlinePassed(Exception):
    pass


def _windows(text: str) -> Iterator[tuple[int, str, int]]:
    """(offset, window, keep_before): overlapping windows of a long text, cut at spaces."""
    start = 0
    while start < len(text):
        cut = start + _CHUNK
        if cut >= len(text):
            yield start, text[start:], len(text) - start
            return
        space = text.rfind(" ", cut - 1024, cut)
        cut = space + 1 if space > start else cut
        yield start, text[start : cut + _OVERLAP], cut - start
        start = cut


@dataclass
class _Scanner:
    deadline: float | None
    clock: Clock
    names: frozenset[Entity] = NO_NAMES

    def check_time(self) -> None:
        if self.deadline is not None and self.clock() > self.deadline:
            raise _DeadlinePassed

    def text(self, text: str, key: str) -> list[Finding]:
        """Findings in ``text``; long texts window by window, each after a deadline check."""
        self.check_time()
        if len(text) <= _CHUNK:
            return scan_text_under(text, key, self.names)
        found: list[Finding] = []
        for offset, window, keep_before in _windows(text):
            self.check_time()
            found += [
                Finding(f.entity, f.start + offset, f.end + offset, f.kind)
                for f in scan_text_under(window, key, self.names)
                if f.start < keep_before
            ]
        return found

    def value(self, text: str, key: str) -> list[Finding]:
        found = self.text(text, key)
        under_key = secret_under_key(key, text) if key else None
        return without_overlaps([*found, under_key]) if under_key else found


def _walk(payload: object, scanner: _Scanner, located: list[LocatedFinding]) -> None:
    stack: list[tuple[Path, object, str]] = [((), payload, "")]
    while stack:
        path, value, key = stack.pop()
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            text = value if isinstance(value, str) else str(value)
            located += [LocatedFinding(path, f) for f in scanner.value(text, key)]
        elif isinstance(value, dict):
            entries = []
            for i, (name, item) in enumerate(value.items()):
                in_name = scanner.text(name, "")
                step: str | int = i if in_name else name
                located += [LocatedFinding((*path, step), f, in_key=True) for f in in_name]
                entries.append(((*path, step), item, name))
            stack += reversed(entries)
        elif isinstance(value, list | tuple):
            stack += reversed([((*path, i), item, key) for i, item in enumerate(value)])


def scan_payload(
    payload: object,
    *,
    max_bytes: int = 1_000_000,
    deadline_s: float | None = None,
    clock: Clock = time.perf_counter,
    names: Collection[Entity] = NO_NAMES,
) -> PayloadScan:
    """Scan every string, integer and dict key of a JSON-like payload.

    ``deadline_s`` is a time budget from the call. A payload over ``max_bytes`` (compact JSON)
    or :data:`MAX_DEPTH` is not scanned; one that runs out of time is scanned partly. Either
    way the scan is ``oversize`` and the policy must deny or mask everything. ``names``
    (PERSON, LOCATION) asks the named-entity model to read every string too (see
    ``pii_ner``). Raises TypeError for values that are not JSON-like.
    """
    deadline = None if deadline_s is None else clock() + deadline_s
    scanner = _Scanner(deadline, clock, frozenset(names))
    too_big = _too_big(payload, max_bytes)
    if too_big:
        return PayloadScan.of([], too_big)
    located: list[LocatedFinding] = []
    try:
        _walk(payload, scanner, located)
    except _DeadlinePassed:
        return PayloadScan.of(located, StopReason.DEADLINE)
    return PayloadScan.of(located)
