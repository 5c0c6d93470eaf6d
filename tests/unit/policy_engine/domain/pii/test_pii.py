from itertools import count, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_engine.domain.pii import (
    MAX_DEPTH,
    Entity,
    PayloadScan,
    StopReason,
    mask_all,
    mask_payload,
    mask_text,
    scan_payload,
    scan_text,
)

# --- invariants ---------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_findings_are_sorted_disjoint_and_within_the_text(text: str) -> None:
    findings = scan_text(text)
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
    assert all(a.end <= b.start for a, b in pairwise(findings))


@given(
    st.lists(
        st.sampled_from(
            [
                "jane.doe@acme.io",
                "+1 415-555-2671",
                "4111 1111 1111 1111",
                "DE89 3704 0044 0532 0130 00",
                "078-05-1121",
                "10.0.0.5",
                "password=s3cr3t!Pass",
                "plain words",
                "1.2.3",
            ]
        ),
        max_size=6,
    ),
    st.sampled_from([" ", "\n", ", "]),
)
def test_masking_every_entity_leaves_nothing_to_find(pieces: list[str], sep: str) -> None:
    payload = {"text": sep.join(pieces), "items": pieces}
    masked = mask_payload(payload, scan_payload(payload), list(Entity))
    assert scan_payload(masked).findings == ()


# --- payloads -----------------------------------------------------------------------------

PAYLOAD = {
    "tool": "send_email",
    "arguments": {
        "to": "jane.doe@acme.io",
        "cc": ["ops@acme.io", "nobody"],
        "body": "Card 4111 1111 1111 1111, call +1 415-555-2671.",
        "password": "s3cr3t!Pass",
        "retries": 3,
        "ratio": 0.5,
        "urgent": True,
        "note": None,
    },
}


def test_payload_scan_locates_each_finding_by_path_and_counts_entities() -> None:
    scan = scan_payload(PAYLOAD)
    located = {(f.path, f.finding.entity) for f in scan.findings}
    assert located == {
        (("arguments", "to"), Entity.EMAIL),
        (("arguments", "cc", 0), Entity.EMAIL),
        (("arguments", "body"), Entity.CREDIT_CARD),
        (("arguments", "body"), Entity.PHONE),
        (("arguments", "password"), Entity.SECRET),
    }
    assert scan.findings_by_entity == {
        Entity.EMAIL: 2,
        Entity.CREDIT_CARD: 1,
        Entity.PHONE: 1,
        Entity.SECRET: 1,
    }
    assert not scan.oversize


def test_string_payload_is_scanned_at_the_root() -> None:
    scan = scan_payload("mail jane.doe@acme.io")
    assert [(f.path, f.finding.start, f.finding.end) for f in scan.findings] == [((), 5, 21)]


def test_dict_keys_are_scanned_too() -> None:
    scan = scan_payload({"roles": {"jane.doe@acme.io": "admin"}})
    ((finding,),) = [scan.findings]
    assert finding.in_key
    assert finding.path == ("roles", 0)  # the key's position: a scan holds no raw PII


def test_integers_are_scanned_as_their_digits() -> None:
    scan = scan_payload({"card": 4111111111111111, "count": 12})
    assert [(f.path, f.finding.entity) for f in scan.findings] == [(("card",), Entity.CREDIT_CARD)]


def test_placeholder_under_a_secret_key_is_not_a_secret() -> None:
    assert scan_payload({"password": "changeme", "api_key": "", "token": "${TOKEN}"}).findings == ()


def test_authorization_value_under_its_key_masks_only_the_credential() -> None:
    payload = {"headers": {"Authorization": "Bearer abc123DEF456ghi789"}}
    masked = mask_payload(payload, scan_payload(payload), [Entity.SECRET])
    assert masked == {"headers": {"Authorization": "Bearer [SECRET]"}}


@pytest.mark.parametrize("bad", [{1: "x"}, b"bytes", {"a": {1, 2}}, object()])
def test_values_that_are_not_json_like_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        scan_payload(bad)


# --- size and time caps -------------------------------------------------------------------


def test_payload_over_max_bytes_is_oversize_and_not_scanned() -> None:
    scan = scan_payload({"body": "jane.doe@acme.io " * 10}, max_bytes=100)
    assert scan.oversize
    assert scan.stopped is StopReason.MAX_BYTES
    assert scan.findings == ()


def test_max_bytes_counts_utf8_bytes_not_characters() -> None:
    text = "é" * 60  # 60 characters, 120 bytes
    assert scan_payload(text, max_bytes=100).oversize
    assert not scan_payload(text, max_bytes=130).oversize


def test_payload_nested_deeper_than_the_limit_is_oversize() -> None:
    deep: object = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert scan_payload(deep).stopped is StopReason.MAX_DEPTH


def ticking_clock(step: float) -> "count[float]":
    return count(0.0, step)


def test_deadline_exceeded_stops_scanning_with_partial_findings() -> None:
    clock = ticking_clock(1.0)
    payload = ["jane.doe@acme.io", "ops@acme.io", "x@acme.io", "y@acme.io"]
    scan = scan_payload(payload, deadline_s=2.5, clock=lambda: next(clock))
    assert scan.oversize
    assert scan.stopped is StopReason.DEADLINE
    assert 0 < len(scan.findings) < len(payload)


def test_deadline_is_checked_inside_a_long_string() -> None:
    clock = ticking_clock(1.0)
    text = "jane.doe@acme.io " * 20_000  # about 340 KB: several windows
    scan = scan_payload(text, deadline_s=2.5, clock=lambda: next(clock))
    assert scan.stopped is StopReason.DEADLINE


def test_long_string_is_scanned_in_windows_without_losing_or_doubling_findings() -> None:
    text = ("x" * 99 + " ") * 2_000 + "jane.doe@acme.io" + (" " + "y" * 99) * 2_000
    scan = scan_payload(text)
    assert [(f.finding.start, f.finding.end) for f in scan.findings] == [(200_000, 200_016)]


# --- masking ------------------------------------------------------------------------------


def test_mask_replaces_only_the_chosen_entities_with_tokens() -> None:
    masked = mask_payload(PAYLOAD, scan_payload(PAYLOAD), [Entity.EMAIL, Entity.CREDIT_CARD])
    assert masked == {
        "tool": "send_email",
        "arguments": {
            "to": "[EMAIL]",
            "cc": ["[EMAIL]", "nobody"],
            "body": "Card [CREDIT_CARD], call +1 415-555-2671.",
            "password": "s3cr3t!Pass",
            "retries": 3,
            "ratio": 0.5,
            "urgent": True,
            "note": None,
        },
    }


def test_mask_returns_a_copy_and_leaves_the_payload_alone() -> None:
    payload = {"to": ["jane.doe@acme.io"]}
    masked = mask_payload(payload, scan_payload(payload), [Entity.EMAIL])
    assert payload == {"to": ["jane.doe@acme.io"]}
    assert masked == {"to": ["[EMAIL]"]}


def test_masked_keys_stay_unique_and_keys_that_stay_keep_their_name() -> None:
    payload = {"a@acme.io": 1, "b@acme.io": 2, "[EMAIL]": 3}
    masked = mask_payload(payload, scan_payload(payload), [Entity.EMAIL])
    assert masked == {"[EMAIL]#2": 1, "[EMAIL]#3": 2, "[EMAIL]": 3}


def test_values_under_a_key_with_pii_are_located_and_masked_by_the_key_position() -> None:
    payload = {"jane.doe@acme.io": {"phone": "+1 415-555-2671"}}
    scan = scan_payload(payload)
    assert {(f.path, f.in_key) for f in scan.findings} == {((0,), True), ((0, "phone"), False)}
    masked = mask_payload(payload, scan, [Entity.PHONE])
    assert masked == {"jane.doe@acme.io": {"phone": "[PHONE]"}}


def test_masking_an_integer_turns_it_into_the_token() -> None:
    payload = {"card": 4111111111111111}
    assert mask_payload(payload, scan_payload(payload), [Entity.CREDIT_CARD]) == {
        "card": "[CREDIT_CARD]"
    }


def test_mask_refuses_a_scan_that_stopped_early() -> None:
    scan = scan_payload("jane.doe@acme.io", max_bytes=5)
    with pytest.raises(ValueError, match="mask_all or deny"):
        mask_payload("jane.doe@acme.io", scan, [Entity.EMAIL])


def test_mask_refuses_the_scan_of_another_payload() -> None:
    scan = scan_payload({"to": "jane.doe@acme.io"})
    with pytest.raises(ValueError, match="does not belong"):
        mask_payload({"from": "jane.doe@acme.io"}, scan, [Entity.EMAIL])


def test_mask_all_masks_every_string_and_number_and_data_like_keys() -> None:
    payload = {"user_name": "jane", "jane.doe@acme.io": {"n": 7, "ok": True, "x": None}}
    assert mask_all(payload) == {
        "user_name": "[MASKED]",
        "[MASKED]": {"n": "[MASKED]", "ok": True, "x": None},
    }


def test_mask_all_collapses_nesting_beyond_the_depth_limit() -> None:
    deep: object = "leaf"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    masked = mask_all(deep)
    for _ in range(MAX_DEPTH):
        assert isinstance(masked, list)
        masked = masked[0]
    assert masked == "[MASKED]"


def test_payload_scan_holds_no_raw_pii() -> None:
    scan = scan_payload({"to": "jane.doe@acme.io", "ops@acme.io": ["+1 415-555-2671"]})
    assert isinstance(scan, PayloadScan)
    assert "acme" not in repr(scan)
    assert "555" not in repr(scan)


def test_overlapping_readings_become_one_finding_over_their_union() -> None:
    from policy_engine.domain.pii.model import Finding
    from policy_engine.domain.pii.text import without_overlaps

    ssn = Finding(Entity.US_SSN, 7, 16, "us_ssn")
    phone = Finding(Entity.PHONE, 0, 16, "phone")
    card = Finding(Entity.CREDIT_CARD, 14, 30, "visa")
    assert without_overlaps([ssn, phone]) == [Finding(Entity.PHONE, 0, 16, "phone")]
    assert without_overlaps([phone, card]) == [Finding(Entity.CREDIT_CARD, 0, 30, "visa")]
    assert without_overlaps([phone, Finding(Entity.EMAIL, 16, 20, "email")])[1].start == 16


def test_an_address_after_base64_padding_is_an_address_not_a_version_pin() -> None:
    text = "key AAAAB3NzaC1yc2EAAAADAQAB== 122.171.231.146 and requests==2.31.0.1"
    masked = mask_text(text, scan_text(text))
    assert "122.171.231.146" not in masked
    assert "requests==2.31.0.1" in masked  # a pin written against its number stays


def test_every_copy_of_a_detected_value_is_masked_even_one_its_detector_skipped() -> None:
    # the first copy reads as a version pin, the second as an address: neither stays readable
    text = "pinned tool==10.20.30.40, then host 10.20.30.40 answered"
    masked = mask_text(text, scan_text(text))
    assert "10.20.30.40" not in masked
    assert masked.count("[IP_ADDRESS]") == 2
