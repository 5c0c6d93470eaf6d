"""The one rule for text the store can hold (cortex_kit.text), on arbitrary strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from cortex_kit.text import (
    IdentifierText,
    StorableText,
    identifier_problem,
    identifier_text,
    storable_problem,
    storable_text,
)

# Every code point, surrogates included (hypothesis leaves them out by default), with the
# interesting ones drawn often.
_EDGES = [
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\x80",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\U0001f600",
]
CHARS = st.one_of(st.characters(exclude_categories=()), st.sampled_from(_EDGES))
TEXTS = st.text(alphabet=CHARS, max_size=40)


def storable(value: str) -> bool:
    """The oracle: PostgreSQL text holds any UTF-8 except U+0000."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def is_identifier(value: str) -> bool:
    return storable(value) and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


class Sample(BaseModel):
    text: StorableText
    name: IdentifierText


@given(TEXTS)
def test_text_is_accepted_exactly_when_it_is_storable(value: str) -> None:
    assert (storable_problem(value) is None) == storable(value)


@given(TEXTS)
def test_an_identifier_is_accepted_exactly_when_storable_and_free_of_control_characters(
    value: str,
) -> None:
    assert (identifier_problem(value) is None) == is_identifier(value)


@given(TEXTS)
def test_the_validators_agree_with_the_problems_and_return_accepted_text_unchanged(
    value: str,
) -> None:
    for check, problem in (
        (storable_text, storable_problem),
        (identifier_text, identifier_problem),
    ):
        if problem(value) is None:
            assert check(value) is value
        else:
            with pytest.raises(ValueError, match="contains"):
                check(value)


@given(TEXTS)
def test_a_problem_never_echoes_the_value_and_is_encodable(value: str) -> None:
    problem = identifier_problem(value)
    if problem is not None:
        problem.encode("ascii")  # safe in any answer, header or log line


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("x\x00y", "a NUL character (U+0000) at position 1"),
        ("\ud800", "an unpaired surrogate (U+D800) at position 0"),
        ("ab\udfff", "an unpaired surrogate (U+DFFF) at position 2"),
    ],
)
def test_a_problem_names_the_character_and_where_it_is(value: str, what: str) -> None:
    assert storable_problem(value) == f"contains {what}"


def test_free_form_text_may_hold_line_breaks_and_tabs_but_an_identifier_may_not() -> None:
    assert storable_problem("line one\nline\ttwo") is None
    assert identifier_problem("line one\nline two") == (
        "contains a control character (U+000A) at position 8"
    )
    assert identifier_problem("del\x7f") == "contains a control character (U+007F) at position 3"


def test_the_pydantic_types_report_the_field_of_the_bad_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate({"text": "fine\n", "name": "x\x00y"})
    [error] = caught.value.errors()
    assert error["loc"] == ("name",)
    assert "NUL" in error["msg"]
    assert Sample(text="a\tb", name="d-1:rollback").name == "d-1:rollback"
