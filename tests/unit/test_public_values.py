"""No public schema offers a protobuf enum name: OpenAPI enums and consts of every app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from cortex_contracts.envelope import PAYLOAD_TYPES
from cortex_contracts.public import enum_prefix

from .apps import APPS


def protobuf_enum_names() -> frozenset[str]:
    """Every value name of every enum of the contracts (``DEPLOYMENT_STATUS_SUCCEEDED``)."""
    return frozenset(
        value.name
        for payload in PAYLOAD_TYPES.values()
        for field in payload.DESCRIPTOR.fields
        if field.enum_type is not None
        for value in field.enum_type.values
    )


def protobuf_prefixes() -> re.Pattern[str]:
    """UPPER_SNAKE with one of the contracts' enum prefixes, known value or not."""
    prefixes = {
        enum_prefix(field.enum_type)
        for payload in PAYLOAD_TYPES.values()
        for field in payload.DESCRIPTOR.fields
        if field.enum_type is not None
    }
    return re.compile(rf"^(?:{'|'.join(map(re.escape, sorted(prefixes)))})[A-Z0-9_]+$")


def _offered_words(schema: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string a schema lists as a possible value (``enum``, ``const``, examples)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("enum", "examples") and isinstance(value, list):
                yield from ((where, v) for v in value if isinstance(v, str))
            elif key in ("const", "default", "example") and isinstance(value, str):
                yield where, value
            else:
                yield from _offered_words(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for n, item in enumerate(schema):
            yield from _offered_words(item, f"{where}/{n}")


def test_the_walk_finds_enum_values() -> None:
    words = [word for _, word in _offered_words(APPS["gateway"]().openapi())]
    assert "succeeded" in words  # the events request schema: the walk reaches enums
    assert protobuf_prefixes().match("DEPLOYMENT_STATUS_SUCCEEDED")
    assert "DEPLOYMENT_SOURCE_REST" in protobuf_enum_names()


@pytest.mark.parametrize("name", sorted(APPS))
def test_no_public_schema_offers_a_protobuf_enum_name(name: str) -> None:
    pattern = protobuf_prefixes()
    leaks = [(where, word) for where, word in _offered_words(APPS[name]().openapi())]
    assert [leak for leak in leaks if pattern.match(leak[1])] == []
