import pytest

from policy_engine.domain.pii import Entity, scan_payload, scan_text


def found(text: str) -> list[tuple[Entity, str]]:
    return [(f.entity, text[f.start : f.end]) for f in scan_text(text)]


@pytest.mark.parametrize(
    "number",
    [
        "+1 415-555-2671",
        "+14155552671",
        "+44 (0)20 7946 0958",
        "0044 20 7946 0958",
        "+49 30 123456",
        "+33 6 12 34 56 78",
        "+91 98765 43210",
        "+81 90-1234-5678",
        "(415) 555-2671",
        "415.555.2671",
        "1-415-555-2671",
        "020 7946 0958",
        "030/123456",
        "01 23 45 67 89",
        "06.12.34.56.78",
        "098765 43210",
    ],
)
def test_valid_phone_numbers_are_found_in_common_layouts(number: str) -> None:
    assert found(f"Reach me on {number}, thanks") == [(Entity.PHONE, number)]


@pytest.mark.parametrize(
    "text",
    [
        "released on 2024-01-15 and 15.01.2024",
        "version 10.0.19045.3803",
        "+1 123 456 7890",  # no such area code
        "(123) 456-7890",
        "order 4155552671 shipped",  # a bare digit run without a phone word
        "call_id=4155552671",
        "epoch 1717171717 on a new line",
        "scores 42 17 88 91 03",
        "0.5 1.25 3.75 100 200",
    ],
)
def test_phone_lookalikes_are_not_phones(text: str) -> None:
    assert found(text) == []


def test_bare_digit_run_is_a_phone_next_to_a_phone_word_on_the_same_line() -> None:
    assert found("call me: 4155552671") == [(Entity.PHONE, "4155552671")]
    assert found("call me:\n4155552671") == []


def test_phone_is_found_when_other_numbers_run_into_it() -> None:
    assert found("limit=10 01 24 78 74 95") == [(Entity.PHONE, "01 24 78 74 95")]
    assert found("from 10.0.0.5 (415) 555-2671") == [
        (Entity.IP_ADDRESS, "10.0.0.5"),
        (Entity.PHONE, "(415) 555-2671"),
    ]


def test_a_mask_token_is_no_phone_word() -> None:
    assert found("[PHONE] 4155552671 [US_SSN] 123 45 6789") == []


def test_phone_key_is_the_context_of_a_bare_number_in_a_payload() -> None:
    scan = scan_payload({"phone": "4155552671", "order": "4155552671"})
    assert [(f.path, f.finding.entity) for f in scan.findings] == [(("phone",), Entity.PHONE)]


@pytest.mark.parametrize(
    "number", ["826.817.6321x379", "+1-709-881-2476x748", "(415) 555-2671 ext. 12"]
)
def test_an_extension_is_masked_with_its_number(number: str) -> None:
    assert found(f"Reach me on {number} today") == [(Entity.PHONE, number)]


def test_a_trunk_prefixed_number_stays_a_phone_under_an_ssn_key() -> None:
    scan = scan_payload({"ssn_or_phone": "+49(0) 765124532"})
    assert [f.finding.entity for f in scan.findings] == [Entity.PHONE]
    assert (scan.findings[0].finding.start, scan.findings[0].finding.end) == (0, 16)


def test_a_bare_number_after_contact_is_a_phone() -> None:
    assert found("contact 7245787545 for the keys") == [(Entity.PHONE, "7245787545")]


@pytest.mark.parametrize(
    "number", ["(11) 91234-5678", "912 345 678", "090-1234-5678", "333 1234567"]
)
def test_national_layouts_of_brazil_spain_japan_and_italy_are_phones(number: str) -> None:
    assert found(f"Telefone {number}") == [(Entity.PHONE, number)]
