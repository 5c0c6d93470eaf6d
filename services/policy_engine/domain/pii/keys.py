"""Which key names hold secrets, and which values are placeholders rather than secrets.

Used both for ``key = value`` text (``.env`` lines, YAML, JSON, query strings) and for the
keys of a JSON payload. A key names a secret when one of its words is a secret word
(``password``, ``token``, ``secret`` …, or ``key`` with a qualifier such as ``api`` or
``signing``), unless a later word says the value is metadata about the secret
(``token_type``, ``password_min_length``, ``secret_name``) or an earlier word says it is not
a credential at all (``page_token``, ``max_token``).
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SECRET_WORDS = _words(
    "password passwd pass pwd passphrase passcode secret secrets token credential credentials "
    "creds apikey accesskey secretkey privatekey authtoken accesstoken clientsecret "
    "refreshtoken sessiontoken bearertoken authkey signingkey"
)
_KEY_WORDS = frozenset(("key", "keys"))
_KEY_QUALIFIERS = _words(
    "api access secret private signing encryption master auth client app service account "
    "webhook hmac jwt session ssh deploy admin license crypto cipher aes rsa gpg pgp "
    "subscription consumer developer"
)
_METADATA_AFTER = _words(
    "name names id ids type types url uri urls path file filename dir env length len count "
    "limit limits max min expiry expires expiration expire exp ttl hint policy version arn "
    "ref header field label format algorithm alg required enabled enable prompt reset "
    "strength rotation manager store provider source endpoint usage budget used remaining "
    "lifetime timeout scope scopes regex pattern placeholder mask masked redacted location "
    "mount at in out created updated rotated valid validity status set changed stdin"
)
_NOT_CREDENTIAL_BEFORE = _words(
    "page next continuation cursor sync max min num total input output prompt completion "
    "reasoning cached forgot reset"
)


@lru_cache(maxsize=4096)
def names_authorization(key: str) -> bool:
    """True for ``Authorization``, ``proxy_authorization`` (``<scheme> <credential>`` values)."""
    return "authorization" in key_words(key)


def key_words(key: str) -> list[str]:
    """``SecretAccessKey`` → ``['secret', 'access', 'key']``, ``DB_PASS`` → ``['db', 'pass']``."""
    return [word.lower() for word in _WORDS.findall(key)]


def _secret_word_at(words: list[str]) -> int:
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        if word in _SECRET_WORDS:
            return i
        if word in _KEY_WORDS and any(w in _KEY_QUALIFIERS for w in words[:i]):
            return i
    return -1


@lru_cache(maxsize=4096)  # asked for every key of every payload; key names repeat
def names_a_secret(key: str) -> bool:
    """True for ``password``, ``api_key``, ``X-Api-Key``, ``id_token``; False for ``max_tokens``."""
    words = key_words(key)
    at = _secret_word_at(words)
    if at < 0:
        return False
    if any(word in _METADATA_AFTER for word in words[at + 1 :]):
        return False
    return not any(word in _NOT_CREDENTIAL_BEFORE for word in words[:at])


_PLACEHOLDER = re.compile(
    r"""(?ix)\A(?:
      [*x.\-_#•…?0]*                                  # '', ****, xxxx, ..., ---, 0000
    | <[^<>]*> | \[[^\[\]]*\] | \(\w[^()]*\)           # <your-key>, [REDACTED], (hidden)
    | \{\{.*\}\} | \$\{.*\} | \$\(.*\) | \$\w+ | %\(?\w*\)?s | %\w+% | @\w+@
    | (?:your|insert|enter|paste|replace)[\W_].* | your\w*
    | change[\W_]?(?:me|this|it)|replace[\W_]?me|todo|tbd|fixme|none|null|nil|undefined
    | true|false|yes|no|on|off|n/?a|empty|unset|default|required|optional|hidden|masked
    | secret|secrets|password|passwd|pass|pwd|token|key|apikey|api[\W_]key|foo|bar|baz
    | test|sample|str|string|bytes|int|bool|any|secretstr|expired|invalid|missing
    | revoked|valid|rotated|set|provided|pending|generated
    )\Z"""
)
_CODE_REFERENCE = re.compile(
    r"""(?x)\A(?:
      (?:os|process|env|self|this|config|settings|secrets|vault|params|args|opts|options
        |ctx|context|request|req|credentials|creds|getenv|environ)\b.*
    | [A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+                 # attribute path: cfg.db.password
    | (?:arn|ref\+\w+|vault|sm|ssm|gcp|azure|op|file|env):.*    # references to a vault
    )\Z"""
)


_NOT_LETTER = re.compile(r"[\W_\d]")


def _letters(text: str) -> str:
    return _NOT_LETTER.sub("", text).lower()


_PLACEHOLDER_WORD = re.compile(
    r"(?i)(?<![a-z0-9])(?:here|example|placeholder|dummy|redacted|changeme)(?![a-z0-9])"
)


def is_placeholder(value: str, key: str = "") -> bool:
    """True when ``value`` stands in for a secret instead of being one."""
    if _PLACEHOLDER.match(value) or _PLACEHOLDER_WORD.search(value):
        return True
    if _CODE_REFERENCE.match(value) and sum(c.isdigit() for c in value) <= 2:
        return True  # not a JWT or a dotted token, whose segments are full of digits
    if len(set(value)) < 3:
        return True  # aaaa, abab
    if key and len(value) <= 2 * len(key) and _letters(value) == _letters(key):
        return True  # API_KEY=API_KEY, apiKey: api-key
    return value.isupper() and names_a_secret(value)  # token = GITHUB_TOKEN
