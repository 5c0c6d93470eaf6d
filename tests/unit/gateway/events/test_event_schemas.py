"""``POST /v1/events`` refuses, field by field, any string the store cannot hold."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.events.schemas import EventBatch

CHANGE: dict[str, Any] = {
    "type": "change",
    "id": "c-1",
    "commit_sha": "a" * 40,
    "repo": "github.com/acme/checkout",
    "service": "checkout",
    "committed_at": "2026-11-20T10:00:00Z",
    "pr_id": "42",
    "author": "ana",
}
DEPLOY: dict[str, Any] = {
    "type": "deployment",
    "id": "d-1",
    "service": "checkout",
    "environment": "production",
    "status": "succeeded",
    "started_at": "2026-11-20T11:00:00Z",
    "labels": ["hotfix"],
    "fixes_incident": "i-0",
    "rollback_of": "d-0",
}
INCIDENT: dict[str, Any] = {
    "type": "incident",
    "id": "i-1",
    "service": "checkout",
    "environment": "production",
    "opened_at": "2026-11-20T12:00:00Z",
    "severity": "sev2",
    "caused_by_deployment": "d-1",
    "caused_by_commit": "a" * 40,
}
# Every string field of every kind of event (a list field by its first item).
STRING_FIELDS = [
    (event, name)
    for event in (CHANGE, DEPLOY, INCIDENT)
    for name, value in event.items()
    if name != "type" and isinstance(value, str | list)
]
IDENTIFIERS = {"id", "service", "environment", "pr_id", "fixes_incident", "rollback_of"} | {
    "caused_by_deployment",
    "caused_by_commit",
}
FREE_FORM = {"repo", "author", "labels", "severity"}
# Ids and free-form text (not the times, hashes and enums, which have formats of their own).
TEXT_FIELDS = [(event, name) for event, name in STRING_FIELDS if name in IDENTIFIERS | FREE_FORM]


def _params(fields: list[tuple[dict[str, Any], str]]) -> list[Any]:
    return [pytest.param(event, name, id=f"{event['type']}.{name}") for event, name in fields]


def _with(event: dict[str, Any], name: str, bad: str) -> dict[str, Any]:
    value = event[name]
    return {**event, name: [value[0] + bad] if isinstance(value, list) else value + bad}


def _errors(*events: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        EventBatch.model_validate({"agency": "acme", "events": list(events)})
    return [(e["loc"], e["msg"]) for e in caught.value.errors()]


def _loc(event: dict[str, Any], name: str, index: int = 0) -> tuple[str | int, ...]:
    loc: tuple[str | int, ...] = ("events", index, event["type"], name)
    return (*loc, 0) if isinstance(event[name], list) else loc


@pytest.mark.parametrize(("event", "name"), _params(STRING_FIELDS))
@pytest.mark.parametrize("bad", ["\x00", chr(0xD800), chr(0xDFFF)], ids=["nul", "high", "low"])
def test_a_string_the_store_cannot_hold_is_refused_where_it_is(
    event: dict[str, Any], name: str, bad: str
) -> None:
    [(loc, _)] = _errors(_with(event, name, bad))
    assert loc == _loc(event, name)


@pytest.mark.parametrize(("event", "name"), _params(TEXT_FIELDS))
@pytest.mark.parametrize("control", ["\x01", "\n", "\x1f", "\x7f"], ids=repr)
def test_control_characters_are_refused_in_ids_only(
    event: dict[str, Any], name: str, control: str
) -> None:
    event = _with(event, name, control)
    if name in IDENTIFIERS:
        [(loc, message)] = _errors(event)
        assert loc == _loc(event, name)
        assert "control character" in message or "pattern" in message
    else:
        EventBatch.model_validate({"events": [event]})


def test_one_bad_event_among_a_hundred_is_refused_by_its_index_and_field() -> None:
    good = [{**DEPLOY, "id": f"d-{n}"} for n in range(100)]
    bad = {**CHANGE, "id": "x\x00y"}
    [(loc, message)] = _errors(*good[:57], bad, *good[57:])
    assert loc == ("events", 57, "change", "id")
    assert "NUL" in message
    assert "x" not in message.replace("(U+0000)", "")  # the value itself is not echoed


def test_an_agency_with_a_nul_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        EventBatch.model_validate({"agency": "ac\x00me", "events": [CHANGE]})
    assert [e["loc"] for e in caught.value.errors()] == [("agency",)]
