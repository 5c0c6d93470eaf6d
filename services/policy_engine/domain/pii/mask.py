"""Masking a payload: the findings of chosen entities, or everything (the oversize policy)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from policy_engine.domain.pii.model import Entity, Finding
from policy_engine.domain.pii.payload import MAX_DEPTH, Path, PayloadScan

MASKED = "[MASKED]"


def mask_text(text: str, findings: Sequence[Finding]) -> str:
    """``text`` with every finding (of a scan of this very text) replaced by ``[ENTITY]``."""
    return _masked_text(text, findings)


# A detected value shorter than this is not hunted for elsewhere in its text (it could be a
# common word); every structured entity and secret is longer.
_MIN_ECHO = 6


def _detected(text: str, findings: Iterable[Finding]) -> dict[str, str]:
    """The detected values of ``text`` worth hunting for elsewhere, with their masks."""
    return {
        text[f.start : f.end]: f"[{f.entity.value}]"
        for f in findings
        if f.end - f.start >= _MIN_ECHO and f.end <= len(text)
    }


def _masked_text(
    text: str, findings: Sequence[Finding], elsewhere: Mapping[str, str] | None = None
) -> str:
    """Each finding masked, and so is every other copy of a detected value in the same text
    (and of the values detected ``elsewhere`` in the same payload): a detector may judge one
    copy by its context (a version pin, a word nearby) and miss another, which must not leave
    the value readable."""
    ordered = sorted(findings, key=lambda f: f.start)
    known = {**(elsewhere or {}), **_detected(text, ordered)}
    pieces, at = [], 0
    for f in ordered:
        if f.start < at or f.end > len(text):
            raise ValueError("the scan does not belong to this payload")
        pieces += [_echoes_masked(text[at : f.start], known), f"[{f.entity.value}]"]
        at = f.end
    pieces.append(_echoes_masked(text[at:], known))
    return "".join(pieces)


def _echoes_masked(gap: str, known: dict[str, str]) -> str:
    for raw in sorted(known, key=len, reverse=True):  # the longest first: no partial masks
        if raw in gap:
            gap = gap.replace(raw, known[raw])
    return gap


def _unique(name: str, taken: set[str]) -> str:
    n, candidate = 2, name
    while candidate in taken:
        candidate, n = f"{name}#{n}", n + 1
    taken.add(candidate)
    return candidate


class _Masker:
    def __init__(self, scan: PayloadScan, entities: Collection[Entity]) -> None:
        self.values: dict[Path, list[Finding]] = {}
        self.keys: dict[Path, list[Finding]] = {}
        self.keys_with_findings = {located.path for located in scan.findings if located.in_key}
        self.pending = 0
        self.known: dict[str, str] = {}
        for located in scan.findings:
            if located.finding.entity in entities:
                table = self.keys if located.in_key else self.values
                table.setdefault(located.path, []).append(located.finding)
                self.pending += 1

    def learn(self, value: object, path: Path) -> None:
        """Every detected value of the payload, before any is masked: a copy of one in another
        string (where its context made the detector miss it) is masked too."""
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            self.known.update(_detected(text, self.values.get(path, ())))
        elif isinstance(value, dict):
            for step, (name, item) in zip(self._steps(value, path), value.items(), strict=True):
                self.known.update(_detected(name, self.keys.get(step, ())))
                self.learn(item, step)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                self.learn(item, (*path, i))

    def text(self, path: Path, text: str, table: dict[Path, list[Finding]]) -> str:
        findings = table.get(path)
        if not findings:
            return _echoes_masked(text, self.known) if self.known else text
        self.pending -= len(findings)
        return _masked_text(text, findings, self.known)

    def copy(self, value: object, path: Path) -> object:
        if isinstance(value, str):
            return self.text(path, value, self.values)
        if isinstance(value, int) and not isinstance(value, bool):
            if path in self.values:
                return self.text(path, str(value), self.values)
            digits = str(value)
            return value if _echoes_masked(digits, self.known) == digits else MASKED
        if isinstance(value, dict):
            return self.dict(value, path)
        if isinstance(value, list | tuple):
            return [self.copy(item, (*path, i)) for i, item in enumerate(value)]
        return value

    def _steps(self, value: dict[str, object], path: Path) -> list[Path]:
        steps: list[Path] = []
        for i, name in enumerate(value):
            by_position: Path = (*path, i)
            steps.append(by_position if by_position in self.keys_with_findings else (*path, name))
        return steps

    def dict(self, value: dict[str, object], path: Path) -> dict[str, object]:
        steps = self._steps(value, path)
        names = [self.text(step, name, self.keys) for step, name in zip(steps, value, strict=True)]
        # A masked key must not take the name of a key that stays, nor of another masked key.
        taken = {new for new, old in zip(names, value, strict=True) if new == old}
        out: dict[str, object] = {}
        for step, new, (old, item) in zip(steps, names, value.items(), strict=True):
            out[new if new == old else _unique(new, taken)] = self.copy(item, step)
        return out


def mask_payload(payload: object, scan: PayloadScan, entities: Collection[Entity]) -> object:
    """A copy of ``payload`` with every finding of ``entities`` replaced by ``[ENTITY]``.

    ``scan`` must be the scan of this very payload. Raises ValueError for an oversize scan
    (its findings are partial: :func:`mask_all` or deny instead) or a scan of another payload.
    """
    if scan.oversize:
        raise ValueError(f"the scan stopped early ({scan.stopped}); mask_all or deny instead")
    masker = _Masker(scan, frozenset(entities))
    if masker.pending:
        masker.learn(payload, ())
    masked = masker.copy(payload, ())
    if masker.pending:
        raise ValueError("the scan does not belong to this payload")
    return masked


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z_.\-]{0,63}[0-9]{0,3}")


def mask_all(payload: object) -> object:
    """The payload's shape with every string and number replaced by ``[MASKED]``.

    Keys that read as field names (``user_name``, ``items``, ``v2``) are kept; any other key
    could itself be data (an e-mail, an account number) and is masked. Containers nested
    deeper than :data:`MAX_DEPTH` collapse to ``[MASKED]``.
    """
    return _mask_all(payload, 0)


def _mask_all(value: object, depth: int) -> object:
    if value is None or isinstance(value, bool):
        return value
    if depth >= MAX_DEPTH or not isinstance(value, dict | list | tuple):
        return MASKED
    if isinstance(value, dict):
        taken: set[str] = set()
        out: dict[str, object] = {}
        for key, item in value.items():
            plain = isinstance(key, str) and _PLAIN_KEY.fullmatch(key)
            out[_unique(key if plain else MASKED, taken)] = _mask_all(item, depth + 1)
        return out
    return [_mask_all(item, depth + 1) for item in value]
