"""Phone numbers: valid numbers only, as ``phonenumbers``' :class:`PhoneNumberMatcher` reads
them at :attr:`Leniency.VALID` (a number of a real range of its numbering plan).

A fast expression finds the candidates — digit runs with the separators people use, a
``(0)`` trunk prefix inside an international number, and an extension glued on (``x379``,
``ext. 12``, ``#4``) — and the matcher judges each one, so the numbering plans come from the
library's metadata rather than from us. The extension is part of the finding (it is masked
with the number) but not of the check: an extension longer than the matcher accepts does not
make a valid number invalid.

``+``/``00`` international numbers of any region; national layouts for
:data:`NATIONAL_REGIONS` only, grouped as people write them. A national number written as
one bare digit run needs a phone word on the same line or a phone-ish key (``call``,
``contact``, ``tel``, ``{"phone": …}``): it cannot be told from an order id or a timestamp
otherwise. Dates and the SSN layout are never national phones.
"""

from __future__ import annotations

import re

from phonenumbers import Leniency, PhoneNumberMatcher

from policy_engine.domain.pii.model import Entity, Finding
from policy_engine.domain.pii.structured import (
    NOT_DIGIT,
    after_iban_head,
    near_word,
    trimmed,
)

LENIENCY = Leniency.VALID
_TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "IT", "NL", "JP", "IN")
# National numbers without a trunk 0, by how their digits are grouped: each plan has its own.
_NANP = ("US", "IN", "IT")  # 415 555 2671; Indian and Italian mobiles share the layout
_NATIONAL_BY_GROUPS: dict[tuple[int, ...], tuple[str, ...]] = {
    (10,): ("US", "IN", "BR", "IT"),
    (11,): ("US", "BR"),
    (3, 3, 4): _NANP,
    (1, 3, 3, 4): ("US",),
    (5, 5): ("IN",),
    (2, 4, 4): ("BR",),  # (11) 3915-0008: area code, then 8 or 9 digits
    (2, 5, 4): ("BR",),
    (2, 8): ("BR",),
    (2, 9): ("BR",),
    (9,): ("ES",),
    (3, 3, 3): ("ES",),
    (3, 2, 2, 2): ("ES",),
    (3, 6): ("ES",),
    (3, 7): ("IT",),
}
# Without the trunk 0 an Indian number is a mobile (6-9), an Italian one a mobile (3).
_FIRST_DIGITS = {"IN": "6789", "IT": "3"}
NATIONAL_REGIONS = tuple(
    dict.fromkeys((*_TRUNK_ZERO_REGIONS, *(r for v in _NATIONAL_BY_GROUPS.values() for r in v)))
)

_PHONE = re.compile(
    r"(?:[+(](?<![\w.\-/#$@+][+(])\d|\d(?<![\w.\-/#$@+]\d))"  # nothing glued on the left
    r"(?:[ .\-()/\u00a0]{0,2}\d){6,16}"
    r"(?P<ext>[ ]?(?:x|ext\.?|extn\.?|extension|#)[ ]?\d{1,7})?"
    r"(?![\w@]|[.\-/]\w)"
)
_PHONE_CONTEXT = re.compile(  # not the [PHONE] of masked text
    r"(?i)(?:(?<!\[)phone|mobile|whatsapp|hotline|contact|landline|telephone|telefon|"
    r"t[ée]l[ée]phone|tel[ée]fono|celular|portable|m[óo]vil|handy|\u96fb\u8a71|"
    r"r[üu]ckruf|anruf|appel|llam|ligue|liga\b|"
    r"\b(?:fax|sms|call|callback|cell|tel|ph|dial|ring|reach|text|tlf)\b)"
)
_DIGIT_GROUP = re.compile(r"\d+")
_DATE = re.compile(r"\d{1,2}([./\-])\d{1,2}\1\d{2,4}|\d{4}([./\-])\d{1,2}\2\d{1,2}")
_DIGITS_AND_PARENS = re.compile(r"[\d()]")


def _matched(number: str, region: str | None) -> bool:
    """The matcher reads ``number`` whole as one valid number of ``region``'s plan."""
    return any(
        m.start == 0 and m.end == len(number)
        for m in PhoneNumberMatcher(number, region, leniency=LENIENCY)
    )


def _national_regions(raw: str, digits: str) -> tuple[str, ...]:
    """The regions whose plans a national number is written for, from how it is grouped
    (``(415) 555-2671``, ``020 7946 0958``, ``(11) 91234-5678``); none for a date, a list
    of decimals, a path or the SSN layout."""
    if _DATE.fullmatch(raw):
        return ()
    if "/" in raw:  # only the German area-code slash: 030/123456
        area, _, rest = raw.partition("/")
        if "/" in rest or not (area.isdigit() and area.startswith("0") and len(area) <= 6):
            return ()
    if "." in raw and _DIGITS_AND_PARENS.sub("", raw.replace(".", "")):
        return ()  # dots mixed with spaces or dashes: a list of decimals, not a number
    groups = tuple(len(group) for group in _DIGIT_GROUP.findall(raw))
    if groups == (3, 2, 4):
        return ()  # the SSN layout, never how a phone number is grouped
    if digits.startswith("0"):
        if "." in raw:
            return ("FR",)  # 06.12.34.56.78
        trunk_grouped = groups[0] <= 6 and all(2 <= g <= 8 for g in groups)
        return _TRUNK_ZERO_REGIONS if len(groups) == 1 or trunk_grouped else ()
    regions = _NATIONAL_BY_GROUPS.get(groups, ())
    return tuple(r for r in regions if digits[0] in _FIRST_DIGITS.get(r, digits[0]))


def _is_phone(text: str, start: int, end: int, hint: str) -> bool:
    raw = text[start:end]
    digits = NOT_DIGIT.sub("", raw)
    if not 7 <= len(digits) <= 15:
        return False
    regions: tuple[str, ...] | tuple[None] = (None,)
    if not (raw.startswith("+") or digits.startswith("00")):
        regions = _national_regions(raw, digits)
        if not regions or after_iban_head(text, start):
            return False
        if raw.isdigit() and not near_word(text, start, hint, _PHONE_CONTEXT):
            return False
    if digits.startswith("00") and not raw.startswith("+"):
        raw = "+" + raw[raw.index("00") + 2 :].lstrip(" .-")
    return any(_matched(raw, region) for region in regions)


def _phone_in(text: str, m: re.Match[str], hint: str) -> tuple[int, int] | None:
    number_end = m.start("ext") if m["ext"] else m.end()
    for start, end in trimmed(text, m.start(), number_end, tail=not m["ext"]):
        if _is_phone(text, start, end, hint):
            return start, m.end() if end == number_end else end
    return None


def _phone_restart(m: re.Match[str]) -> int:
    """Where to look again after a candidate that failed: at a ``(`` inside it, or past an
    address or decimal glued on by a space (``10.0.0.5 (415) 555-2671``)."""
    raw = m.group()
    paren, space = raw.find("(", 1), raw.find(" ")
    if paren > 0 and raw[paren : paren + 3] != "(0)":
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
