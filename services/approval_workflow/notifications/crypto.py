"""Signing secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256), as the gateway keeps its
webhook secrets. Signing needs the secret itself, so it is encrypted, not hashed; the
repository sees ciphertext only and nothing logs or answers the plaintext.

The keys: ``CORTEX_APPROVAL_WORKFLOW_NOTIFICATION_SECRETS_KEY`` (comma-separated Fernet keys,
the first encrypts, any decrypts), and always last a key derived from the process's internal
secret (HKDF-SHA256), so a cluster started by ``cortex up`` needs no new secret. A cluster that
sets keys keeps reading rows sealed under the derived key, and re-seals every row under the first
key at start.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SETTING = "CORTEX_APPROVAL_WORKFLOW_NOTIFICATION_SECRETS_KEY"
_INFO = b"cortex approval-workflow notification signing secrets v1"


class SecretUnreadable(Exception):
    """A stored secret decrypts under none of the keys (the keys changed)."""


def derived_key(internal_secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        internal_secret.encode()
    )
    return base64.urlsafe_b64encode(raw)


def parse_keys(value: str) -> list[Fernet]:
    """The configured keys, first one first (ValueError names the bad one by position)."""
    keys = []
    for n, part in enumerate((p.strip() for p in value.split(",") if p.strip()), 1):
        try:
            keys.append(Fernet(part))
        except ValueError:
            raise ValueError(
                f"{SETTING} key #{n} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


class SecretBox:
    def __init__(self, keys: str, internal_secret: str) -> None:
        self._fernet = MultiFernet([*parse_keys(keys), Fernet(derived_key(internal_secret))])

    def __repr__(self) -> str:
        return "SecretBox(…)"

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "the agency's signing secret does not decrypt under the service's keys"
            ) from None

    def reseal(self, token: bytes) -> bytes:
        """Under the first key (a token no key opens is left as it is)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            return token
