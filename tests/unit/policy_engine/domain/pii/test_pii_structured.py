import pytest

from policy_engine.domain.pii import Entity, scan_text
from policy_engine.domain.pii.structured import luhn_valid


def found(text: str) -> list[tuple[Entity, str]]:
    return [(f.entity, text[f.start : f.end]) for f in scan_text(text)]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in scan_text(text)]


# --- e-mail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("Reply to <jane.doe@acme-corp.io> today.", "jane.doe@acme-corp.io"),
        ("mailto:ops+alerts@mail.example.org", "ops+alerts@mail.example.org"),
        ("send it to John.Smith@Company.Travel.", "John.Smith@Company.Travel"),
        ('{"to": "123456789@qq.com"}', "123456789@qq.com"),
        ("a@x.io;b@y.co.uk", "a@x.io"),
    ],
)
def test_email_is_found_with_its_exact_span(text: str, email: str) -> None:
    assert (Entity.EMAIL, email) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "git clone git@github.com:acme/api.git",
        "ssh deploy@bastion.acme.io:22",
        "user@localhost",
        "npm i @types/node@18.0.0",
        "a@b.c",
        "@channel please review",
        "postgres://app:Sup3rS3cret@db.acme.io/app",
    ],
)
def test_email_lookalikes_are_not_emails(text: str) -> None:
    assert Entity.EMAIL not in {entity for entity, _ in found(text)}


# --- payment cards ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "brand"),
    [
        ("4111 1111 1111 1111", "visa"),
        ("4111-1111-1111-1111", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223 0031 2200 3222", "mastercard"),
        ("3782 822463 10005", "amex"),
        ("6011 1111 1111 1117", "discover"),
        ("3530111333300000", "jcb"),
        ("3056 930902 5904", "diners"),
        ("6212345678901265", "unionpay"),
    ],
)
def test_luhn_valid_cards_with_a_known_iin_are_found(card: str, brand: str) -> None:
    assert kinds(f"card: {card}.") == [(brand, card)]


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "1234 5678 9012 3452",  # Luhn holds, no issuer starts with 1
        "4111-1111 1111-1111",  # mixed separators
        "IMEI 35-209900-176148-1",
        "ref 550e8400-e29b-41d4-a716-446655440000",
        "timestamp 1717171717123",
        "**** **** **** 1111",
    ],
)
def test_card_lookalikes_are_not_cards(text: str) -> None:
    assert Entity.CREDIT_CARD not in {entity for entity, _ in found(text)}


def test_card_is_found_when_other_numbers_run_into_it() -> None:
    assert found("4111 1111 1111 1111 123") == [(Entity.CREDIT_CARD, "4111 1111 1111 1111")]
    assert found("qty 2 4111 1111 1111 1111") == [(Entity.CREDIT_CARD, "4111 1111 1111 1111")]
    assert (Entity.CREDIT_CARD, "4111 1111 1111 1111") in found("415-555-2671 4111 1111 1111 1111")


# --- IBAN ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iban",
    [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NO9386011117947",
    ],
)
def test_ibans_are_found_printed_and_electronic(iban: str) -> None:
    assert found(f"IBAN: {iban}.") == [(Entity.IBAN, iban)]


@pytest.mark.parametrize(
    "text",
    [
        "DE88 3704 0044 0532 0130 00",  # check digits off by one
        "DE89 3704 0044 0532 0130",  # too short for DE
        "XX89370400440532013000",  # no such country
        "BIC DEUTDEFF500",
    ],
)
def test_iban_lookalikes_are_not_ibans(text: str) -> None:
    assert Entity.IBAN not in {entity for entity, _ in found(text)}


# --- US SSN -------------------------------------------------------------------------------


def test_dashed_ssn_is_found() -> None:
    assert found("SSN 078-05-1121 on file") == [(Entity.US_SSN, "078-05-1121")]


@pytest.mark.parametrize(
    "ssn", ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"]
)
def test_ssa_invalid_ranges_are_not_ssns(ssn: str) -> None:
    assert found(f"SSN {ssn}") == []


def test_spaced_or_bare_ssn_needs_an_ssn_word() -> None:
    assert found("ssn: 123 45 6789") == [(Entity.US_SSN, "123 45 6789")]
    assert found('{"customer_ssn": "123456789"}') == [(Entity.US_SSN, "123456789")]
    assert found("room 123 45 6789") == []


def test_ssn_shaped_part_number_is_not_an_ssn() -> None:
    assert found("part 123-45-6789-B") == []


# --- IP addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("curl http://10.0.0.5:8080/health", "10.0.0.5"),
        ("allow from 192.168.1.0/24;", "192.168.1.0"),
        ("ssh ubuntu@203.0.113.7", "203.0.113.7"),
        ("listen [2001:db8::1]:443;", "2001:db8::1"),
        ("client fe80::1ff:fe23:4567:890a connected", "fe80::1ff:fe23:4567:890a"),
        ("route ::1 only", "::1"),
        ("mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128"),
        ("full 2001:0DB8:85A3:0000:0000:8A2E:0370:7334", "2001:0DB8:85A3:0000:0000:8A2E:0370:7334"),
    ],
)
def test_ip_addresses_are_found(text: str, address: str) -> None:
    assert found(text) == [(Entity.IP_ADDRESS, address)]


@pytest.mark.parametrize(
    "text",
    [
        "upgrade to 1.2.3",
        "version 10.0.0.1",
        "build 4.2.0.17",
        "ship 1.2.3.4-beta",
        "pin pkg==1.2.3.4",
        "python-3.11.7.1",
        "v10.0.0.1",
        "OID 1.3.6.1.4.1.311",
        "bad 256.1.1.1 and 01.02.03.04",
        "at 12:30:45 from 00:1A:2B:3C:4D:5E",
        "std::vector<int> and dead::beef",
    ],
)
def test_versions_and_other_dotted_or_colon_numbers_are_not_ips(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize("digits", ["213190926685878", "180012345678906", "3528000000000007"])
def test_jcb_including_15_digit_2131_and_1800_is_a_card_anywhere(digits: str) -> None:
    number = digits[:-1] + _luhn_digit(digits[:-1])
    assert found(f"paid with {number}") == [(Entity.CREDIT_CARD, number)]


@pytest.mark.parametrize("prefix", ["3500", "0604", "6390", "5600", "1234"])
def test_a_luhn_valid_number_of_any_range_is_a_card_next_to_a_card_word(prefix: str) -> None:
    partial = prefix + "00000000012"
    number = partial + _luhn_digit(partial)
    assert found(f"my card {number} was declined") == [(Entity.CREDIT_CARD, number)]
    if prefix in ("3500", "1234"):  # outside every issuer range: the word is the evidence
        assert found(f"order {number} was shipped") == []


def _luhn_digit(partial: str) -> str:
    return next(d for d in "0123456789" if luhn_valid(partial + d))
