"""The audit chain's seal and the walk that names the first broken link (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from gateway.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Break,
    BrokenLink,
    canonical,
    seal,
    verify,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        actor="0123456789ab",
        role="admin",
        agency="acme",
        action="DELETE /v1/keys/{key_id}",
        target={"key_id": f"k{n}"},
        outcome=204,
        request_id=f"r{n}",
        at=T0 + timedelta(seconds=n),
    )


def chain(length: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq in range(1, length + 1):
        records.append(seal(seq, entry(seq), prev))
        prev = records[-1].hash
    return records


def walk(records: list[AuditRecord], head_seq: int = 5, head_hash: bytes | None = None) -> object:
    head = head_hash if head_hash is not None else chain(5)[-1].hash
    return verify(records, head_seq, head).first_broken


def renumbered(record: AuditRecord, seq: int) -> AuditRecord:
    return dataclasses.replace(record, seq=seq)


def test_a_sound_chain_verifies() -> None:
    records = chain(5)
    verdict = verify(records, 5, records[-1].hash)
    assert (verdict.ok, verdict.rows, verdict.first_broken) == (True, 5, None)


def test_an_empty_chain_verifies_against_the_genesis_head() -> None:
    assert verify([], 0, GENESIS_HASH).ok


def test_the_seal_covers_every_field_and_the_previous_hash() -> None:
    first = seal(1, entry(1), GENESIS_HASH)
    assert seal(1, entry(1), b"\x01" * 32).hash != first.hash
    for change in ({"outcome": 200}, {"actor": None}, {"target": {"key_id": "other"}}):
        assert seal(1, dataclasses.replace(entry(1), **change), GENESIS_HASH).hash != first.hash
    assert canonical(1, entry(1)) != canonical(2, entry(1))


def test_the_canonical_form_does_not_depend_on_the_timezone_or_key_order() -> None:
    base = entry(1)
    other = dataclasses.replace(
        base, at=base.at.astimezone(UTC).astimezone(), target=dict(base.target)
    )
    assert canonical(1, base) == canonical(1, other)


def test_an_altered_row_is_named() -> None:
    records = chain(5)
    records[2] = dataclasses.replace(records[2], entry=dataclasses.replace(entry(3), outcome=200))
    assert walk(records) == BrokenLink(3, Break.ALTERED)


def test_a_row_rewritten_and_resealed_is_named_by_the_next_link() -> None:
    records = chain(5)
    forged = seal(3, dataclasses.replace(entry(3), outcome=200), records[1].hash)
    records[2] = forged
    assert walk(records) == BrokenLink(3, Break.ALTERED)


def test_a_deleted_row_is_named() -> None:
    records = chain(5)
    del records[1]
    assert walk(records) == BrokenLink(2, Break.DELETED)


def test_a_deleted_tail_is_named() -> None:
    assert walk(chain(5)[:3]) == BrokenLink(4, Break.DELETED)


def test_a_deletion_hidden_by_renumbering_is_named() -> None:
    records = chain(5)
    rest = [renumbered(r, r.seq - 1) for r in records[2:]]
    assert walk([*records[:1], *rest], head_seq=4) == BrokenLink(2, Break.DELETED)


def test_a_row_after_the_head_is_inserted() -> None:
    records = chain(5)
    extra = seal(6, entry(6), records[-1].hash)
    assert walk([*records, extra]) == BrokenLink(6, Break.INSERTED)


def test_a_row_pushed_in_mid_chain_is_inserted() -> None:
    records = chain(5)
    intruder = seal(3, entry(99), records[1].hash)
    shifted = [renumbered(r, r.seq + 1) for r in records[2:]]
    assert walk([*records[:2], intruder, *shifted], head_seq=6) == BrokenLink(3, Break.INSERTED)


def test_a_head_that_is_not_the_last_row_is_altered() -> None:
    assert walk(chain(5), head_hash=b"\x02" * 32) == BrokenLink(5, Break.ALTERED)


def test_rows_are_counted_past_the_first_break() -> None:
    records = chain(5)
    records[0] = dataclasses.replace(records[0], hash=b"\x03" * 32)
    verdict = verify(records, 5, records[-1].hash)
    assert (verdict.ok, verdict.rows, verdict.first_broken) == (
        False,
        5,
        BrokenLink(1, Break.ALTERED),
    )
