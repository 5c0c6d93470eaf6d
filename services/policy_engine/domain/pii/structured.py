"""Detectors of structured PII: e-mail, payment card, IBAN, US SSN and IP addresses.

Phone numbers are in :mod:`policy_engine.domain.pii.phone`.

Each detector finds candidates with one regular expression and validates every candidate
(Luhn, mod-97, SSA ranges, ``ipaddress``), so a look-alike that fails its checksum or range
is never reported. A candidate must stand alone: digits glued to a word, a
``/`` path, a ``#`` id or a longer dotted number are an identifier, not PII. Where numbers
run into each other (``limit=10 01 24 78 74 95``), a failed candidate is retried without the
short number in front or a group or two at its end.

Deliberate choices (the accuracy corpus encodes them as hard negatives):

* CREDIT_CARD — 12 to 19 digits with one kind of separator and a first group of four, Luhn
  valid, with a length that an issuer whose public IIN range holds the number issues
  (:data:`CARD_BRANDS`: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro,
  Mir, RuPay). A Luhn-valid number outside every range, or of a length its range does not
  issue, is a card only next to a card word (``card``, ``visa``, ``Karte``, ``tarjeta`` …):
  brands and ranges change faster than any table, and the word is the evidence.
* IBAN — upper case, electronic or printed with single spaces, length per country, mod-97.
* US_SSN — ``NNN-NN-NNNN`` outside the SSA's invalid ranges; spaced or bare forms only next
  to an SSN word or key.
* IP_ADDRESS — every valid address, private and loopback included (the policy may allow
  them), except a dotted quad written as a version: after ``version``/``build``/``release``/
  ``==``, glued to ``name-`` or followed by ``-beta``/``+build``. IPv6 needs a digit, so
  ``dead::beef`` in code is not an address.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterator

from policy_engine.domain.pii.model import Entity, Finding

# --- shared by the digit detectors --------------------------------------------------------

_CONTEXT_WINDOW = 40
NOT_DIGIT = re.compile(r"\D")
_SHORT_HEAD = re.compile(r"\d{1,3} (?=\d)")
# The digits of an IBAN whose checksum failed must not be read as a phone or card number.
_IBAN_HEAD_BEFORE = re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* \Z")


def after_iban_head(text: str, start: int) -> bool:
    return text[start - 1 : start] == " " and bool(
        _IBAN_HEAD_BEFORE.search(text, max(0, start - 48), start)
    )


def near_word(text: str, start: int, hint: str, words: re.Pattern[str]) -> bool:
    """The key the text sits under, or the same line just before ``start``, has one of words."""
    if words.search(hint):
        return True
    window = max(0, start - _CONTEXT_WINDOW, text.rfind("\n", 0, start) + 1)
    return bool(words.search(text, window, start))


def trimmed(text: str, start: int, end: int, *, tail: bool) -> Iterator[tuple[int, int]]:
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


# --- e-mail -------------------------------------------------------------------------------

# Found from each ``@``: the local part is walked back from it, the domain matched after it.
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w\-]|\.[A-Za-z0-9]|:[\w~/])"  # ``git@host:org/repo``, ``user@host:22``: SSH
)
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "_.%+-")
_URL_USERINFO_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@]*\Z")


def _local_part_start(text: str, at: int) -> int | None:
    """Where the local part before ``text[at] == "@"`` starts; None if there is none."""
    start = at
    while start > 0 and text[start - 1] in _LOCAL_CHARS:
        start -= 1
        if at - start > 64:
            return None
    while start < at and text[start] in ".%+-":
        start += 1  # it starts with a letter, digit or underscore…
    if start == at or (start and text[start - 1] in _LOCAL_CHARS):
        return None  # …and ``+jane@…`` has none
    return start


def _email_at(text: str, at: int) -> Finding | None:
    start = _local_part_start(text, at)
    domain = _EMAIL_DOMAIN.match(text, at + 1) if start is not None else None
    if start is None or domain is None or text[at - 1] == "." or ".." in text[start:at]:
        return None
    if text.rfind("://", max(0, start - 200), start) >= 0 and _URL_USERINFO_BEFORE.search(
        text, max(0, start - 200), start
    ):
        return None  # ``scheme://user:password@host`` — a credential, found by the secrets
    return Finding(Entity.EMAIL, start, domain.end(), "email")


def find_emails(text: str, _hint: str) -> list[Finding]:
    found = []
    at = text.find("@")
    while at >= 0:
        finding = _email_at(text, at)
        if finding:
            found.append(finding)
        at = text.find("@", at + 1)
    return found


# --- payment card -------------------------------------------------------------------------

_CARD = re.compile(r"\d(?<![\w.\-/#$@+]\d)(?:[ \-]?\d){11,18}(?![\w@]|[.\-/]\w)")
_CARD_SEPARATOR = re.compile(r"[ \-]")
_CARD_FIRST_GROUP = re.compile(r"\d{4}[ \-]")
_NEXT_CARD_GROUP = re.compile(r"[ \-](?=\d{4})")
_CARD_CONTEXT = re.compile(  # not the [CREDIT_CARD] of masked text
    r"(?i)(?:(?<!\[)(?<!\[CREDIT_)card|\b(?:visa|mastercard|amex|maestro|jcb|unionpay|"
    r"discover|diners|rupay|mir|cc|pan|cvv|karte|carte|tarjeta|cart[aã]o|carta|kaart)\b"
    r"|kreditkarte|\u30ab\u30fc\u30c9)"
)


IinRange = tuple[str, str]  # the first and last prefix, of one width: ("2221", "2720")


def _ranges(table: str) -> tuple[IinRange, ...]:
    """``"51-55 0604 4"`` → (("51", "55"), ("0604", "0604"), ("4", "4"))."""
    pairs = (entry.partition("-") for entry in table.split())
    return tuple((low, high or low) for low, _, high in pairs)


# Public IIN ranges and the lengths issued in them, most specific brand first (a number in
# two ranges takes the first brand whose length fits). Sources: the card networks' published
# ranges as ISO/IEC 7812 registries and the networks' acceptance guides list them.
CARD_BRANDS: tuple[tuple[str, tuple[IinRange, ...], frozenset[int]], ...] = tuple(
    (brand, _ranges(ranges), frozenset(int(n) for n in lengths.split()))
    for brand, ranges, lengths in (
        ("mir", "2200-2204", "16 17 18 19"),
        ("jcb", "3528-3589 2131 1800", "15 16 17 18 19"),
        ("amex", "34 37", "15"),
        ("diners", "300-305 3095 36 38 39", "14 15 16 17 18 19"),
        ("discover", "6011 644-649 65 622126-622925", "16 17 18 19"),
        ("rupay", "60 65 81 82 508 353 356", "16"),
        ("unionpay", "62 81", "16 17 18 19"),
        ("mastercard", "51-55 2221-2720", "16"),
        ("visa", "4", "13 16 19"),
        ("maestro", "50 56-58 6304 6759 6761-6763 0604 6390", "12 13 14 15 16 17 18 19"),
        ("maestro", "6", "16 17 18 19"),  # the rest of 6: 12-digit runs there are too common
    )
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _in_range(digits: str, ranges: tuple[IinRange, ...]) -> bool:
    return any(low <= digits[: len(low)] <= high for low, high in ranges)


def card_brand(digits: str) -> str | None:
    """The brand whose public IIN range and length fit ``digits``; None if no brand fits."""
    n = len(digits)
    for brand, ranges, lengths in CARD_BRANDS:
        if n in lengths and _in_range(digits, ranges):
            return brand
    return None


def _card_brand_at(text: str, start: int, end: int, hint: str) -> str | None:
    raw = text[start:end]
    if not (raw.isdigit() or _CARD_FIRST_GROUP.match(raw)):
        return None  # cards are written 4111 1111 …, 3782 822463 …: a first group of four
    if len(set(_CARD_SEPARATOR.findall(raw))) > 1:
        return None
    digits = _CARD_SEPARATOR.sub("", raw)
    if not 12 <= len(digits) <= 19 or after_iban_head(text, start):
        return None
    if not luhn_valid(digits):
        return None
    brand = card_brand(digits)
    if brand is None and near_word(text, start, hint, _CARD_CONTEXT):
        return "unknown_brand"
    return brand


def _card_restart(m: re.Match[str]) -> int:
    """Where to look again after a candidate that failed: at its next group of four or more
    digits, which may start a real card (``415-555-2671 4111 1111 1111 1111``)."""
    group = _NEXT_CARD_GROUP.search(m.group(), 1)
    return m.start() + group.end() if group else m.end()


def _card_in(text: str, m: re.Match[str], hint: str) -> Finding | None:
    for start, end in trimmed(text, m.start(), m.end(), tail=True):
        brand = _card_brand_at(text, start, end, hint)
        if brand:
            return Finding(Entity.CREDIT_CARD, start, end, brand)
    return None


def find_cards(text: str, hint: str) -> list[Finding]:
    found, pos = [], 0
    while m := _CARD.search(text, pos):
        card = _card_in(text, m, hint)
        if card:
            found.append(card)
        pos = card.end if card else _card_restart(m)
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


def find_ibans(text: str, _hint: str) -> list[Finding]:
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
        if m[2] != "-" and not near_word(text, m.start(), hint, _SSN_CONTEXT):
            continue
        found.append(Finding(Entity.US_SSN, m.start(), m.end(), "us_ssn"))
    return found


# --- IP addresses -------------------------------------------------------------------------

_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d|[\-+][A-Za-z])")
_IPV6_HINT = re.compile(r"::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
_VERSION_BEFORE = re.compile(
    # A requirement pin is written against its number (``pkg==1.2.3.4``); ``== 1.2.3.4``
    # with a space is what base64 padding before an address looks like, and stays an address.
    r"(?i)(?:(?:version|\bver|release|build|firmware|\brev)\s*[:=]?\s*|(?<=\w)(?:==|~=|>=|<=|!=))\Z"
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


def find_ips(text: str, _hint: str) -> list[Finding]:
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
