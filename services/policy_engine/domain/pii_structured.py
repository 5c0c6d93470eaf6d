"""Detectors of structured PII: e-mail, phone, payment card, IBAN, US SSN and IP addresses.

Every detector runs one regular expression to find candidates and then validates each
candidate (Luhn, mod-97, SSA ranges, ``phonenumbers``, ``ipaddress``), so a look-alike that
fails its checksum or range is never reported. Candidates must stand alone: a digit run glued
to a word, a ``/`` path or a longer dotted number is an identifier, not PII.

Deliberate choices (the accuracy corpus encodes them as hard negatives):

* PHONE — ``+``/``00`` international numbers in any region; national formats only for
  :data:`NATIONAL_REGIONS`, and a national number written as one bare digit run needs a phone
  word nearby (``call``, ``tel``, a ``phone`` key …) because it cannot be told from an order
  id or a timestamp. Trunk-prefix regions need the leading ``0``.
* IP_ADDRESS — every syntactically valid address, private and loopback included (the policy
  may allow them), except a dotted quad written as a version: after ``version``/``build``/
  ``release``/``==``, glued to ``name-`` or followed by ``-beta``/``+build``.
* US_SSN — ``NNN-NN-NNNN``; spaced or bare forms only next to an SSN word.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterator

import phonenumbers

from policy_engine.domain.pii_model import Entity, Finding

NATIONAL_REGIONS = ("US", "GB", "DE", "FR", "IN")
_TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "IN")
_TEN_DIGIT_REGIONS = ("US", "IN")  # NANP, and Indian mobiles (6-9…) without their trunk 0
_CONTEXT_WINDOW = 40

# --- e-mail -------------------------------------------------------------------------------

# Found from each ``@``: the local part is searched back from it, the domain matched after it.
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._%+\-]{0,63}\Z")
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w\-]|\.[A-Za-z0-9]|:[\w~/])"  # ``git@host:org/repo``, ``user@host:22``: SSH
)
_EMAIL_BEFORE = frozenset(string.ascii_letters + string.digits + "_.%+-")
_URL_USERINFO_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@]*\Z")


def _email_at(text: str, at: int) -> Finding | None:
    local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
    domain = _EMAIL_DOMAIN.match(text, at + 1) if local else None
    if local is None or domain is None:
        return None
    start, name = local.start(), local.group()
    if (start and text[start - 1] in _EMAIL_BEFORE) or name.endswith(".") or ".." in name:
        return None
    if _URL_USERINFO_BEFORE.search(text, max(0, start - 200), start):
        return None  # ``scheme://user:password@host`` — a credential, found by the secrets
    return Finding(Entity.EMAIL, start, domain.end(), "email")


def find_emails(text: str, hint: str) -> list[Finding]:
    found = []
    at = text.find("@")
    while at >= 0:
        finding = _email_at(text, at)
        if finding:
            found.append(finding)
        at = text.find("@", at + 1)
    return found


# --- phone --------------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?:[+(](?<![\w.\-/#$@+][+(])\d|\d(?<![\w.\-/#$@+]\d))"  # nothing glued on the left
    r"(?:[ .\-()/\u00a0]{0,2}\d){6,16}(?![\w@]|[.\-/]\w)"
)
_PHONE_CONTEXT = re.compile(  # not the [PHONE] of masked text
    r"(?i)(?:(?<!\[)phone|mobile|whatsapp|hotline|\b(?:fax|sms|call|callback|cell|tel|ph|dial)\b)"
)
_NOT_DIGIT = re.compile(r"\D")
_SHORT_HEAD = re.compile(r"\d{1,3} (?=\d)")
_DIGIT_GROUP = re.compile(r"\d+")
_DATE = re.compile(r"\d{1,2}([./\-])\d{1,2}\1\d{2,4}|\d{4}([./\-])\d{1,2}\2\d{1,2}")
_DIGITS_AND_PARENS = re.compile(r"[\d()]")

# The digits of an IBAN whose checksum failed must not be read as a phone or card number.
_IBAN_HEAD_BEFORE = re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* \Z")


def _after_iban_head(text: str, start: int) -> bool:
    return text[start - 1 : start] == " " and bool(
        _IBAN_HEAD_BEFORE.search(text, max(0, start - 48), start)
    )


def _near_word(text: str, start: int, hint: str, words: re.Pattern[str]) -> bool:
    """The key the text sits under, or the same line just before ``start``, has one of words."""
    if words.search(hint):
        return True
    window = max(0, start - _CONTEXT_WINDOW, text.rfind("\n", 0, start) + 1)
    return bool(words.search(text, window, start))


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
        return _TEN_DIGIT_REGIONS
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
    digits = _NOT_DIGIT.sub("", raw)
    if not 7 <= len(digits) <= 15:
        return False
    regions = _phone_regions(raw, digits)
    if not regions:
        return False
    if regions != (None,):
        if not _grouped_like_a_phone(raw, digits) or _after_iban_head(text, start):
            return False
        if raw.isdigit() and not _near_word(text, start, hint, _PHONE_CONTEXT):
            return False
    number = "+" + digits[2:] if digits.startswith("00") and not raw.startswith("+") else raw
    return _valid_in(number, regions)


def _trimmed(text: str, start: int, end: int, *, tail: bool) -> Iterator[tuple[int, int]]:
    """The candidate, then — where a neighbouring number ran into it — the candidate without
    a short number and a space before it (``limit=10 01 24 78 74 95``) and, with ``tail``,
    without one or two space-separated groups after it (``415-555-2671 4111 …``)."""
    yield start, end
    head = _SHORT_HEAD.match(text, start, end)
    if head:
        yield head.end(), end
    for _ in range(2 if tail else 0):
        end = text.rfind(" ", start, end)
        if end <= start:
            return
        yield start, end


def _phone_in(text: str, m: re.Match[str], hint: str) -> tuple[int, int] | None:
    for start, end in _trimmed(text, m.start(), m.end(), tail=True):
        if _is_phone(text, start, end, hint):
            return start, end
    return None


def _after_first_group(m: re.Match[str]) -> int:
    """Where to look again after a card candidate that failed: past its first separator, as
    its tail may start a real card (``415-555-2671 4111 1111 1111 1111``)."""
    gap = _NOT_DIGIT.search(m.group(), 1)
    return m.start() + gap.end() if gap else m.end()


def _phone_restart(m: re.Match[str]) -> int:
    """Where to look again after a candidate that failed: at a ``+`` or ``(`` inside it, or
    past an address or decimal glued on by a space (``10.0.0.5 (415) 555-2671``)."""
    raw = m.group()
    strong = min((i for i in (raw.find("+", 1), raw.find("(", 1)) if i > 0), default=0)
    if strong:
        return m.start() + strong
    space = raw.find(" ")
    return m.start() + space + 1 if space > 0 and "." in raw[:space] else m.end()


def find_phones(text: str, hint: str) -> list[Finding]:
    found, pos = [], 0
    while m := _PHONE.search(text, pos):
        span = _phone_in(text, m, hint)
        if span:
            found.append(Finding(Entity.PHONE, span[0], span[1], "phone"))
        pos = span[1] if span else _phone_restart(m)
    return found


# --- payment card -------------------------------------------------------------------------

_CARD = re.compile(r"\d(?<![\w.\-/#$@+]\d)(?:[ \-]?\d){11,18}(?![\w@]|[.\-/]\w)")
_CARD_SEPARATOR = re.compile(r"[ \-]")
_CARD_FIRST_GROUP = re.compile(r"\d{4}[ \-]")
_MAESTRO_IINS = frozenset((5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763))


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The brand whose IIN range and length fit ``digits``; None for an implausible number."""
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    brands = (
        ("visa", digits[0] == "4", n in (13, 16, 19)),
        ("mastercard", 51 <= p2 <= 55 or 2221 <= p4 <= 2720, n == 16),
        ("amex", p2 in (34, 37), n == 15),
        ("discover", p4 == 6011 or 644 <= p3 <= 649 or p2 == 65, 16 <= n <= 19),
        ("jcb", 3528 <= p4 <= 3589, 16 <= n <= 19),
        ("diners", 300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39), 14 <= n <= 19),
        ("unionpay", p2 == 62, 16 <= n <= 19),
        ("maestro", p4 in _MAESTRO_IINS, 12 <= n <= 19),
        ("mir", 2200 <= p4 <= 2204, 16 <= n <= 19),
    )
    for brand, prefix_fits, length_fits in brands:
        if prefix_fits:
            return brand if length_fits else None
    return None


def _card_brand_at(text: str, start: int, end: int) -> str | None:
    raw = text[start:end]
    separators = _CARD_SEPARATOR.findall(raw)
    if len(set(separators)) > 1 or (separators and not _CARD_FIRST_GROUP.match(raw)):
        return None  # cards are written 4111 1111 …, 3782 822463 …: a first group of four
    digits = _CARD_SEPARATOR.sub("", raw)
    if not 12 <= len(digits) <= 19 or _after_iban_head(text, start):
        return None
    brand = card_brand(digits)
    return brand if brand and luhn_valid(digits) else None


def _card_in(text: str, m: re.Match[str]) -> Finding | None:
    for start, end in _trimmed(text, m.start(), m.end(), tail=True):
        brand = _card_brand_at(text, start, end)
        if brand:
            return Finding(Entity.CREDIT_CARD, start, end, brand)
    return None


def find_cards(text: str, hint: str) -> list[Finding]:
    found, pos = [], 0
    while m := _CARD.search(text, pos):
        card = _card_in(text, m)
        if card:
            found.append(card)
        pos = card.end if card else _after_first_group(m)
    return found


# --- IBAN ---------------------------------------------------------------------------------


def _lengths(table: str) -> dict[str, int]:
    return {entry[:2]: int(entry[2:]) for entry in table.split()}


# Country code and IBAN length, from the SWIFT IBAN registry.
IBAN_LENGTHS = _lengths(
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 "
    "DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 "
    "IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 "
    "MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 "
    "SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20"
)
_IBAN_START = re.compile(r"[A-Z][A-Z](?<![A-Za-z0-9][A-Z][A-Z])\d\d(?= ?[A-Z0-9])")


def iban_valid(compact: str) -> bool:
    """Mod-97 over the rearranged IBAN (letters as 10..35) equals 1."""
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban_end(text: str, start: int, length: int) -> tuple[int, str] | None:
    """Walk ``length`` IBAN characters from ``start``, allowing single spaces between them."""
    chars: list[str] = []
    i, n = start, len(text)
    while len(chars) < length and i < n:
        char = text[i]
        if char == " " and chars and i + 1 < n and text[i + 1] != " ":
            i += 1
            continue
        if not (char.isascii() and (char.isdigit() or char.isupper())):
            return None
        chars.append(char)
        i += 1
    if len(chars) < length or (i < n and text[i].isalnum()):
        return None
    return i, "".join(chars)


def find_ibans(text: str, hint: str) -> list[Finding]:
    found = []
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2])
        walked = _iban_end(text, m.start(), length) if length else None
        if walked and iban_valid(walked[1]):
            found.append(Finding(Entity.IBAN, m.start(), walked[0], "iban"))
    return found


# --- US SSN -------------------------------------------------------------------------------

_SSN = re.compile(r"(\d(?<![\w\-/.#$@+]\d)\d\d)([ \-]?)(\d\d)\2(\d{4})(?![\w@]|[\-/.]\w)")
_SSN_CONTEXT = re.compile(  # not the [US_SSN] of masked text
    r"(?i)(?:(?<![a-z])(?<!\[US_)ssn(?![a-z])|social[ _\-]?security|\bss#)"
)


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 9xx, no group 00, no serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find_ssns(text: str, hint: str) -> list[Finding]:
    found = []
    for m in _SSN.finditer(text):
        if not ssn_valid(m[1], m[3], m[4]):
            continue
        if m[2] != "-" and not _near_word(text, m.start(), hint, _SSN_CONTEXT):
            continue
        found.append(Finding(Entity.US_SSN, m.start(), m.end(), "us_ssn"))
    return found


# --- IP addresses -------------------------------------------------------------------------

_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d|[\-+][A-Za-z])")
_IPV6_HINT = re.compile(r"::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
_VERSION_BEFORE = re.compile(
    r"(?i)(?:version|\bver|release|build|firmware|\brev|==|~=|>=|<=|!=)\s*[:=]?\s*\Z"
)
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)"
)


def _octets_valid(address: str) -> bool:
    return all(
        int(octet) <= 255 and (octet == "0" or not octet.startswith("0"))
        for octet in address.split(".")
    )


def _written_as_version(text: str, start: int) -> bool:
    if start >= 2 and text[start - 1] == "-" and text[start - 2].isalnum():
        return True  # ``python-3.11.7.1``
    return bool(_VERSION_BEFORE.search(text, max(0, start - 24), start))


def find_ips(text: str, hint: str) -> list[Finding]:
    found = []
    if "." in text:
        found = [
            Finding(Entity.IP_ADDRESS, m.start(), m.end(), "ipv4")
            for m in _IPV4.finditer(text)
            if _octets_valid(m.group()) and not _written_as_version(text, m.start())
        ]
    if ":" in text and _IPV6_HINT.search(text):
        found += [
            Finding(Entity.IP_ADDRESS, m.start(), m.end(), "ipv6")
            for m in _IPV6.finditer(text)
            if _is_ipv6(m.group())
        ]
    return found


def _is_ipv6(candidate: str) -> bool:
    if not any(char.isdigit() for char in candidate):
        return False  # ``dead::beef``, ``ab::cd`` read as code, not as an address
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True
