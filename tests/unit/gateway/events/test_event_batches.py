"""How ``POST /v1/events`` packs events into envelopes, and its batch limit (events.service)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cortex_contracts import ChangeRecorded, DeploymentRecorded, IncidentRecorded
from gateway.errors import BatchTooLarge
from gateway.events import service
from gateway.events.schemas import ChangeEvent


def _change(n: int, *, repo: str = "") -> ChangeRecorded:
    return ChangeRecorded(event_id=f"c-{n}", commit_sha=f"{n:040x}", repo=repo)


def test_batches_hold_at_most_the_maximum_number_of_events_in_order() -> None:
    payloads = [_change(n) for n in range(service.BATCH_MAX_EVENTS * 2 + 1)]
    batches = service._batches(payloads)
    assert [len(b) for b in batches] == [service.BATCH_MAX_EVENTS, service.BATCH_MAX_EVENTS, 1]
    assert [p for b in batches for p in b] == payloads


def test_batches_stay_under_the_byte_bound_and_a_huge_event_travels_alone() -> None:
    big = "x" * (service.BATCH_MAX_BYTES // 3)
    huge = _change(99, repo="y" * (service.BATCH_MAX_BYTES + 1))
    payloads = [_change(n, repo=big) for n in range(5)] + [huge, _change(100)]
    batches = service._batches(payloads)
    assert [len(b) for b in batches] == [2, 2, 1, 1, 1]
    for batch in batches[:-2]:
        assert sum(p.ByteSize() for p in batch) <= service.BATCH_MAX_BYTES
    assert batches[-2] == [huge]


def test_each_kind_of_payload_becomes_its_batch_item() -> None:
    kinds = [
        service._item(p).WhichOneof("event")
        for p in (_change(1), DeploymentRecorded(deployment_id="d"), IncidentRecorded())
    ]
    assert kinds == ["change", "deployment", "incident"]


async def test_a_batch_over_the_limit_is_refused_before_anything_is_checked_or_staged() -> None:
    committed = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        ChangeEvent(
            type="change",
            id=f"c-{n}",
            commit_sha=f"{n:040x}",
            service="api",
            committed_at=committed,
        )
        for n in range(3)
    ]
    untouched: Any = None  # neither the session, the outbox nor the collector is reached
    with pytest.raises(BatchTooLarge, match="3 events in one request; the limit is 2"):
        await service.send_events(
            untouched,
            untouched,
            untouched,
            agency="a",
            principal="k",
            events=events,
            max_events=2,
        )
