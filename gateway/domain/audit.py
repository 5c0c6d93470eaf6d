"""The audit chain's pure rules: what a row holds, how it is sealed, how a walk finds the first
broken link (docs/api.md "Audit log")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = bytes(32)
"""``prev_hash`` of the first row (the head of an empty chain)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened: who (key id, role), on which agency, which route, to what, how it ended."""

    actor: str | None
    role: str | None
    agency: str
    action: str
    """Method and route template: ``DELETE /v1/keys/{key_id}``."""
    target: Mapping[str, Any]
    """The path parameters: ``{"key_id": "0a1b2c3d4e5f"}``."""
    outcome: int
    """The HTTP status of the answer."""
    request_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A row of the chain: its entry, its place and its seal."""

    seq: int
    entry: AuditEntry
    prev_hash: bytes
    hash: bytes


def canonical(seq: int, entry: AuditEntry) -> bytes:
    """The bytes a row's hash covers: every field, in a fixed order, as compact sorted JSON."""
    at = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(
        [
            seq,
            at,
            entry.actor,
            entry.role,
            entry.agency,
            entry.action,
            dict(entry.target),
            entry.outcome,
            entry.request_id,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def seal(seq: int, entry: AuditEntry, prev_hash: bytes) -> AuditRecord:
    """The row ``seq``: ``hash = sha256(canonical row + prev_hash)``."""
    return AuditRecord(seq, entry, prev_hash, _digest(seq, entry, prev_hash))


def _digest(seq: int, entry: AuditEntry, prev_hash: bytes) -> bytes:
    return hashlib.sha256(canonical(seq, entry) + prev_hash).digest()


def _sound(record: AuditRecord, *, seq: int | None = None) -> bool:
    """Whether the row's hash is that of its content (read at ``seq`` when given)."""
    at = record.seq if seq is None else seq
    return _digest(at, record.entry, record.prev_hash) == record.hash


class Break(StrEnum):
    ALTERED = "altered"
    DELETED = "deleted"
    INSERTED = "inserted"


@dataclass(frozen=True, slots=True)
class BrokenLink:
    seq: int
    reason: Break


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rows: int
    first_broken: BrokenLink | None


@dataclass
class _Walk:
    """The last two rows accepted (the genesis before any), for the checks of the next one."""

    head_seq: int
    head_hash: bytes
    last_seq: int = 0
    last_hash: bytes = GENESIS_HASH
    before_seq: int = 0
    before_hash: bytes = GENESIS_HASH

    def accept(self, record: AuditRecord) -> None:
        self.before_seq, self.before_hash = self.last_seq, self.last_hash
        self.last_seq, self.last_hash = record.seq, record.hash


class ChainVerifier:
    """Walks the rows fed in ``seq`` order and names the first broken link.

    - ``deleted``: a ``seq`` is missing (a gap, rows that end before the head's seq, or a row
      sound only one place higher: the rest renumbered after a deletion);
    - ``inserted``: a row beyond the head's seq; or a row whose successor, read one place
      lower, is sound and links to the row before it (a row pushed in, the rest shifted);
    - ``altered``: a row whose hash is not that of its content, or whose successor's
      ``prev_hash`` is not its hash (a row rewritten and re-hashed), or a head that is not the
      last row.

    One row is held back: whether a row was pushed in shows in the row after it.
    """

    def __init__(self, head_seq: int, head_hash: bytes) -> None:
        self._walk = _Walk(head_seq, head_hash)
        self._held: AuditRecord | None = None
        self._broken: BrokenLink | None = None
        self.rows = 0

    def feed(self, record: AuditRecord) -> None:
        self.rows += 1
        if self._held is not None:
            self._step(self._held, record)
        self._held = record

    def finish(self) -> Verdict:
        if self._held is not None:
            self._step(self._held, None)
            self._held = None
        broken = self._broken or _check_tail(self._walk)
        return Verdict(broken is None, self.rows, broken)

    def _step(self, record: AuditRecord, successor: AuditRecord | None) -> None:
        if self._broken is None:
            self._broken = _check(self._walk, record, successor)
            self._walk.accept(record)


def verify(records: Iterable[AuditRecord], head_seq: int, head_hash: bytes) -> Verdict:
    """:class:`ChainVerifier` over ``records`` (in ``seq`` order) and the chain's head."""
    verifier = ChainVerifier(head_seq, head_hash)
    for record in records:
        verifier.feed(record)
    return verifier.finish()


def _check(walk: _Walk, record: AuditRecord, successor: AuditRecord | None) -> BrokenLink | None:
    if record.seq > walk.last_seq + 1:
        return BrokenLink(walk.last_seq + 1, Break.DELETED)
    if record.seq > walk.head_seq:
        return BrokenLink(record.seq, Break.INSERTED)
    if _shifted_after(record, walk.before_hash):
        return BrokenLink(walk.last_seq, Break.INSERTED)  # the row accepted last was pushed in
    if successor is not None and _shifted_after(successor, walk.last_hash):
        return BrokenLink(record.seq, Break.INSERTED)
    if not _sound(record):
        if _sound(record, seq=record.seq + 1):  # renumbered down: the row before it is gone
            return BrokenLink(record.seq, Break.DELETED)
        return BrokenLink(record.seq, Break.ALTERED)
    if record.prev_hash != walk.last_hash:
        return BrokenLink(walk.last_seq, Break.ALTERED)
    return None


def _shifted_after(record: AuditRecord, hash_before: bytes) -> bool:
    """``record`` is sound one place lower and links to ``hash_before``: a row was inserted
    before it and it was renumbered."""
    return (
        record.seq > 1
        and record.prev_hash == hash_before
        and not _sound(record)
        and _sound(record, seq=record.seq - 1)
    )


def _check_tail(walk: _Walk) -> BrokenLink | None:
    if walk.last_seq < walk.head_seq:
        return BrokenLink(walk.last_seq + 1, Break.DELETED)
    if walk.last_hash != walk.head_hash:
        return BrokenLink(walk.last_seq, Break.ALTERED)
    return None
