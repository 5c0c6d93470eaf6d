"""Detectors of secrets: provider tokens, private keys, and values a key name calls secret.

Provider tokens (kinds ``aws_access_key``, ``github_token``, ``slack_token``,
``slack_webhook``, ``stripe_key``) are matched by their full shape, not their prefix alone,
and classic GitHub tokens must carry a valid CRC32 checksum. ``pem_private_key`` spans a
``-----BEGIN … PRIVATE KEY-----`` block to its END line (or, truncated, to its last base64
line), also inside JSON text with ``\n`` escapes.

Secrets named by their key (``key_named_secret``; ``aws_secret_key`` when the key is an AWS
secret key's name) are found in ``.env``/shell (``DB_PASSWORD=…``), YAML (``password: …`` at
the start of a line), JSON and Python literals, query strings (``?api_key=…``), headers
(``X-Api-Key: …``), flags (``--password …``) and connection strings; also ``bearer_token``
(``Authorization: Bearer|Basic …``) and ``url_password`` (``scheme://user:…@host``). The
value is the finding, so masking keeps ``password=[SECRET]`` readable. Not secrets:
documentation keys (``AKIAIOSFODNN7EXAMPLE`` …), low-entropy fillers (``sk_live_xxxx…``),
placeholders and references (``changeme``, ``<your-key>``, ``${VAR}``, ``os.environ[…]``),
code (``password = get_password()``) and prose (``Reset your password: click …``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from policy_engine.domain.pii.keys import (
    is_placeholder,
    key_words,
    names_a_secret,
    names_authorization,
)
from policy_engine.domain.pii.model import Entity, Finding

KNOWN_EXAMPLES = frozenset(
    (
        "AKIAIOSFODNN7EXAMPLE",  # AWS documentation
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe documentation
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    )
)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAX_VALUE = 512


def _secret(start: int, end: int, kind: str) -> Finding:
    return Finding(Entity.SECRET, start, end, kind)


def _random_enough(token: str, distinct: int) -> bool:
    return token not in KNOWN_EXAMPLES and "EXAMPLE" not in token and len(set(token)) >= distinct


# --- provider tokens ----------------------------------------------------------------------

# Each pattern starts with its literal prefix (the boundary check follows as a lookbehind) so
# the regex engine can skip ahead to the prefix instead of trying every position.
_AWS_KEY_ID = re.compile(r"A[KS]IA(?<![A-Za-z0-9]....)[A-Z0-9]{16}(?![A-Za-z0-9])")
_GITHUB_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
_GITHUB_CLASSIC = re.compile(r"gh[pousr]_(?<![A-Za-z0-9_]....)([A-Za-z0-9]{36})(?![A-Za-z0-9_])")
_GITHUB_FINE_GRAINED = re.compile(
    r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])"
)
_SLACK_TOKEN = re.compile(
    r"xox[baprs]-(?<![A-Za-z0-9].....)\d{1,15}(?:-\d{1,15}){0,3}-([A-Za-z0-9]{20,64})"
    r"(?![A-Za-z0-9])"
)
_SLACK_WEBHOOK = re.compile(
    r"https?://hooks\.slack\.com/(?:services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}"
    r"|workflows/T[A-Z0-9]{6,12}/A[A-Z0-9]{6,12}/\d{6,24})/([A-Za-z0-9]{20,32})(?![A-Za-z0-9])"
)
_STRIPE = re.compile(
    r"[sr]k_(?<![A-Za-z0-9_]...)(?:live|test)_([0-9A-Za-z]{16,247})(?![A-Za-z0-9_])"
)


def github_checksum(random_part: str) -> str:
    """Base62 (0-9A-Za-z, zero-padded to 6) of the CRC32 of a classic token's 30 random chars."""
    value, digits = zlib.crc32(random_part.encode()), []
    while value:
        value, rest = divmod(value, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(6, "0")


@dataclass(frozen=True, slots=True)
class _Provider:
    kind: str
    hints: tuple[str, ...]  # substrings that must occur before the pattern is worth running
    pattern: re.Pattern[str]
    valid: Callable[[re.Match[str]], bool]


_PROVIDERS = (
    _Provider("aws_access_key", ("AKIA", "ASIA"), _AWS_KEY_ID, lambda m: _random_enough(m[0], 8)),
    _Provider(
        "github_token",
        _GITHUB_PREFIXES,
        _GITHUB_CLASSIC,
        lambda m: github_checksum(m[1][:30]) == m[1][30:],
    ),
    _Provider(
        "github_token",
        ("github_pat_",),
        _GITHUB_FINE_GRAINED,
        lambda m: _random_enough(m[0], 16),
    ),
    _Provider("slack_token", ("xox",), _SLACK_TOKEN, lambda m: _random_enough(m[1], 8)),
    _Provider(
        "slack_webhook",
        ("hooks.slack.com",),
        _SLACK_WEBHOOK,
        lambda m: _random_enough(m[1], 8),
    ),
    _Provider(
        "stripe_key",
        ("_live_", "_test_"),
        _STRIPE,
        lambda m: _random_enough(m[0], 12) and _random_enough(m[1], 8),
    ),
)


def find_provider_tokens(text: str, _hint: str) -> list[Finding]:
    return [
        _secret(m.start(), m.end(), provider.kind)
        for provider in _PROVIDERS
        if any(h in text for h in provider.hints)
        for m in provider.pattern.finditer(text)
        if provider.valid(m)
    ]


# --- PEM private keys ---------------------------------------------------------------------

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----")
# The body of a key whose END line is missing: header lines, then whole lines of base64
# (newlines may be ``\n`` escapes of JSON text).
_NEWLINE = r"(?:\r?\n|(?:\\r)?\\n)"
_PEM_BODY = re.compile(
    rf"(?:{_NEWLINE}(?:Proc-Type|DEK-Info|Comment): [^\n\\]*)*"
    rf"(?:{_NEWLINE}[A-Za-z0-9+/=]{{4,}}(?={_NEWLINE}|[\"']|\Z))*"
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{20}")
_PEM_SPAN = 20_000


def find_private_keys(text: str, _hint: str) -> list[Finding]:
    if "PRIVATE KEY" not in text:
        return []
    found = []
    for m in _PEM_BEGIN.finditer(text):
        end_line = f"-----END {m[1]}PRIVATE KEY{m[2] or ''}-----"
        end_at = text.find(end_line, m.end(), m.end() + _PEM_SPAN)
        if end_at >= 0:
            body_end, end = end_at, end_at + len(end_line)
        else:
            body = _PEM_BODY.match(text, m.end(), m.end() + _PEM_SPAN)
            body_end = end = body.end() if body else m.end()
        if _BASE64_RUN.search(text, m.end(), body_end):  # not ``…`` or ``<key>``
            found.append(_secret(m.start(), end, "pem_private_key"))
    return found


# --- secrets named by their key -----------------------------------------------------------

_KEY_NAMED_SOURCE = (
    r"(?:pass|pwd|secret|token|key|credential|creds)[\w.\-]{0,32}"
    r"(?P<close>[\"']?)[ \t]*(?P<sep>:=|=>|=|:)[ \t]*"
)
# Case-insensitive scanning is several times slower, so ASCII text is scanned lowercased with
# _KEY_NAMED_LOWER and each hit re-matched on the original text with _KEY_NAMED.
_KEY_NAMED_LOWER = re.compile(_KEY_NAMED_SOURCE)
_KEY_NAMED = re.compile(_KEY_NAMED_SOURCE, re.IGNORECASE)
_VALUE = re.compile(
    r"\"(?P<dq>(?:[^\"\\\n]|\\.){0,512})\"|'(?P<sq>[^'\n]{0,512})'"
    r"|(?P<bare>[^\s\"'`,;&<>{}\[\]()]{1,512})"
)
_LINE_END = re.compile(r"[ \t]*(?:[,;}\])#\r\n\"'`]|//|\Z)")
_FLAG_VALUE = re.compile(  # ``--password hunter2``: a command-line flag and its argument
    r"--(?<![\w\-]--)(?P<key>[\w\-]*?(?:pass|pwd|secret|token|key|credential)[\w\-]*)[ \t]+"
    r"(?:\"(?P<dq>[^\"\n]{1,512})\"|'(?P<sq>[^'\n]{1,512})'|(?P<bare>[^\s\"'\-][^\s\"']{0,511}))",
    re.IGNORECASE,
)
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_AUTH_SCHEME = re.compile(r"(?i)(?:bearer|basic|token|digest|apikey)\s+")
_AUTHORIZATION = re.compile(
    r"(?i)\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:bearer|basic|token|digest|apikey)"
    r"[ \t]+(?P<value>[A-Za-z0-9._~+/\-]{8,4096}=*)"
)
# Without the header name only a token-shaped value (long, with digits) follows ``Bearer``.
_BARE_BEARER = re.compile(
    r"(?<![\w\-])Bearer[ \t]+(?P<value>(?=[^\s]*\d)[A-Za-z0-9._~+/\-]{16,4096}=*)"
)
_URL_PASSWORD = re.compile(r"://[^\s:/@\"'<>]{0,64}:(?P<pw>[^\s/@\"'<>]{1,128})@(?=[\w\[])")


def _key_before(text: str, keyword_at: int) -> int:
    """Where the key containing the keyword at ``keyword_at`` starts (at most 64 chars back)."""
    start, stop = keyword_at, max(0, keyword_at - 64)
    while start > stop and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    return start


def _shaped_like_a_secret(value: str) -> bool:
    """A bare ``key: value`` may be prose, so the value must look generated or chosen."""
    return any(c.isdigit() for c in value) or not value.isalnum() or not value[1:].islower()


def secret_value_kind(key: str, value: str) -> str | None:
    """The secret kind of ``value`` stored under ``key``; None if it is no secret."""
    if not 4 <= len(value) <= _MAX_VALUE or len(value.split()) > 4:
        return None
    if is_placeholder(value, key) or not _random_enough(value, 3):
        return None
    words = key_words(key)
    if _AWS_SECRET.fullmatch(value) and "secret" in words and ("aws" in words or "access" in words):
        return "aws_secret_key"
    return "key_named_secret"


def _bare_value_fits(text: str, m: re.Match[str], value: re.Match[str]) -> bool:
    """An unquoted value: ``KEY=value`` (.env, shell, query) or a ``key: value`` line (YAML).

    ``name = call(…)`` or ``name = word`` is code or prose rather than an INI value, and
    ``key: value`` inside a sentence is prose, so those are not secrets.
    """
    bare, after = value["bare"], text[value.end() : value.end() + 1]
    if m["sep"] != ":":
        spaced = m.end() > m.end("sep")
        return not spaced or not (after in ("(", "[") or (bare.isalpha() and bare.islower()))
    if not _LINE_END.match(text, value.end()):
        return False
    line_start = text.rfind("\n", 0, m.start()) + 1
    at_line_start = not text[line_start : _key_before(text, m.start())].strip(" \t-")
    return at_line_start or _shaped_like_a_secret(bare)


def _key_named_at(text: str, m: re.Match[str]) -> Finding | None:
    key_start = _key_before(text, m.start())
    key = text[key_start : m.start("close")]
    if not names_a_secret(key):
        return None
    value = _VALUE.match(text, m.end())
    if value is None:
        return None
    group = "dq" if value["dq"] is not None else "sq" if value["sq"] is not None else "bare"
    if group == "bare" and not _bare_value_fits(text, m, value):
        return None
    kind = secret_value_kind(key, value[group])
    return _secret(value.start(group), value.end(group), kind) if kind else None


def _credential(token: str) -> bool:
    return not is_placeholder(token) and _random_enough(token, 6)


def _bearer_tokens(text: str, pattern: re.Pattern[str]) -> list[Finding]:
    return [
        _secret(m.start("value"), m.end("value"), "bearer_token")
        for m in pattern.finditer(text)
        if _credential(m["value"])
    ]


def _key_named_matches(text: str) -> Iterator[re.Match[str]]:
    if not text.isascii():  # lowercasing may change the length of non-ASCII text
        yield from _KEY_NAMED.finditer(text)
        return
    for hit in _KEY_NAMED_LOWER.finditer(text.lower()):
        m = _KEY_NAMED.match(text, hit.start())
        if m:
            yield m


def _flag_values(text: str) -> list[Finding]:
    found = []
    for m in _FLAG_VALUE.finditer(text):
        group = "dq" if m["dq"] is not None else "sq" if m["sq"] is not None else "bare"
        kind = secret_value_kind(m["key"], m[group]) if names_a_secret(m["key"]) else None
        if kind:
            found.append(_secret(m.start(group), m.end(group), kind))
    return found


def find_key_named(text: str, _hint: str) -> list[Finding]:
    found: list[Finding] = []
    for m in _key_named_matches(text):
        if found and m.start() < found[-1].end:
            continue  # inside the value just found (``a=b=c``)
        finding = _key_named_at(text, m)
        if finding:
            found.append(finding)
    if "--" in text:
        found += _flag_values(text)
    if "uthorization" in text or "AUTHORIZATION" in text:
        found += _bearer_tokens(text, _AUTHORIZATION)
    if "Bearer" in text:
        found += _bearer_tokens(text, _BARE_BEARER)
    if "://" in text:
        found += [
            _secret(m.start("pw"), m.end("pw"), "url_password")
            for m in _URL_PASSWORD.finditer(text)
            if not is_placeholder(m["pw"])
        ]
    return found


def secret_under_key(key: str, value: str) -> Finding | None:
    """A JSON value whose key names a secret, e.g. ``{"password": "…"}``; spans the value."""
    stripped = value.strip()
    start = value.find(stripped) if stripped else 0
    if names_authorization(key):
        scheme = _AUTH_SCHEME.match(stripped)
        if scheme is None or not _credential(stripped[scheme.end() :]):
            return None
        return _secret(start + scheme.end(), start + len(stripped), "bearer_token")
    if not names_a_secret(key):
        return None
    kind = secret_value_kind(key, stripped)
    return _secret(start, start + len(stripped), kind) if kind else None
