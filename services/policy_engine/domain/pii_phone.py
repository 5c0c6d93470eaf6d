"""Phone numbers: valid numbers only, as ``phonenumbers`` validates them.

``+``/``00`` international numbers of any region; national layouts only for
:data:`NATIONAL_REGIONS`, grouped as people write them, with the trunk ``0`` where the
region has one. A national number written as one bare digit run needs a phone word on the
same line or a phone-ish key (``call``, ``tel``, ``{"phone": …}``): it cannot be told from
an order id or a timestamp otherwise. Dates and the SSN layout are never phones.
"""

from __future__ import annotations

import re

import phonenumbers

from policy_engine.domain.pii_model import Entity, Finding
from policy_engine.domain.pii_structured import (
    NOT_DIGIT,
    after_iban_head,
    near_word,
    trimmed,
)

NATIONAL_REGIONS = ("US", "GB", "DE", "FR", "IN")
_TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "IN")
_US_OR_INDIAN_MOBILE = ("US", "IN")  # ten digits from 6-9: NANP, or an Indian mobile

_PHONE = re.compile(
    r"(?:[+(](?<![\w.\-/#$@+][+(])\d|\d(?<![\w.\-/#$@+]\d))"  # nothing glued on the left
    r"(?:[ .\-()/\u00a0]{0,2}\d){6,16}(?![\w@]|[.\-/]\w)"
)
_PHONE_CONTEXT = re.compile(  # not the [PHONE] of masked text
    r"(?i)(?:(?<!\[)phone|mobile|whatsapp|hotline|\b(?:fax|sms|call|callback|cell|tel|ph|dial)\b)"
)
_DIGIT_GROUP = re.compile(r"\d+")
_DATE = re.compile(r"\d{1,2}([./\-])\d{1,2}\1\d{2,4}|\d{4}([./\-])\d{1,2}\2\d{1,2}")
_DIGITS_AND_PARENS = re.compile(r"[\d()]")


def _valid_in(number: str, regions: tuple[str, ...] | tuple[None]) -> bool:
    for region in regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return True
    return False


def _phone_regions(raw: str, digits: str) -> tuple[str, ...] | tuple[None]:
    if raw.startswith("+") or digits.startswith("00"):
        return (None,)
    if digits.startswith("0"):
        return _TRUNK_ZERO_REGIONS
    if len(digits) == 10 and digits[0] in "6789":
        return _US_OR_INDIAN_MOBILE
    if len(digits) == 10 or (len(digits) == 11 and digits.startswith("1")):
        return ("US",)
    return ()


def _grouped_like_a_phone(raw: str, digits: str) -> bool:
    """National numbers are grouped as people write them (``(415) 555-2671``, ``020 7946 0958``)."""
    if _DATE.fullmatch(raw):
        return False
    if "/" in raw:  # only the German area-code slash: 030/123456
        area, _, rest = raw.partition("/")
        if "/" in rest or not (area.isdigit() and area.startswith("0") and len(area) <= 6):
            return False
    if "." in raw and _DIGITS_AND_PARENS.sub("", raw.replace(".", "")):
        return False  # dots mixed with spaces or dashes: a list of decimals, not a number
    groups = [len(group) for group in _DIGIT_GROUP.findall(raw)]
    if groups == [3, 2, 4]:
        return False  # the SSN layout, never how a phone number is grouped
    if digits.startswith("0"):
        return len(groups) == 1 or (groups[0] <= 6 and all(2 <= g <= 8 for g in groups))
    return groups in ([10], [11], [3, 3, 4], [1, 3, 3, 4], [5, 5])


def _is_phone(text: str, start: int, end: int, hint: str) -> bool:
    raw = text[start:end]
    digits = NOT_DIGIT.sub("", raw)
    if not 7 <= len(digits) <= 15:
        return False
    regions = _phone_regions(raw, digits)
    if not regions:
        return False
    if regions != (None,):
        if not _grouped_like_a_phone(raw, digits) or after_iban_head(text, start):
            return False
        if raw.isdigit() and not near_word(text, start, hint, _PHONE_CONTEXT):
            return False
    number = "+" + digits[2:] if digits.startswith("00") and not raw.startswith("+") else raw
    return _valid_in(number, regions)


def _phone_in(text: str, m: re.Match[str], hint: str) -> tuple[int, int] | None:
    for start, end in trimmed(text, m.start(), m.end(), tail=True):
        if _is_phone(text, start, end, hint):
            return start, end
    return None


def _phone_restart(m: re.Match[str]) -> int:
    """Where to look again after a candidate that failed: at a ``(`` inside it, or past an
    address or decimal glued on by a space (``10.0.0.5 (415) 555-2671``)."""
    raw = m.group()
    paren, space = raw.find("(", 1), raw.find(" ")
    if paren > 0:
        return m.start() + paren
    return m.start() + space + 1 if space > 0 and "." in raw[:space] else m.end()


def find_phones(text: str, hint: str) -> list[Finding]:
    found, pos = [], 0
    while m := _PHONE.search(text, pos):
        span = _phone_in(text, m, hint)
        if span:
            found.append(Finding(Entity.PHONE, span[0], span[1], "phone"))
        pos = span[1] if span else _phone_restart(m)
    return found
