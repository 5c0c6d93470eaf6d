"""Webhook secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under ``CORTEX_GATEWAY_SECRETS_KEY``.

Verifying a provider's HMAC needs the secret itself, so it cannot be hashed like an API key; it
is stored encrypted instead: the use cases encrypt and decrypt with the gateway's box (part of its
typed state), the repository stores and reads ciphertext only. The setting holds
one or more comma-separated keys: the first encrypts, any of them decrypts, so a key is rotated
by putting a new one first and restarting (the gateway re-encrypts every row under it at start),
then dropping the old one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from cortex_kit.errors import CortexError

__all__ = ["SecretBox", "WebhookSecretUnreadable", "parse_keys"]

_SETTING = "CORTEX_GATEWAY_SECRETS_KEY"


class WebhookSecretUnreadable(CortexError):
    """A stored secret does not decrypt under any configured key: fail closed, loudly."""

    status = 503
    code = "webhook_secret_unreadable"
    title = "Webhook secret unreadable"


def parse_keys(value: str) -> list[Fernet]:
    """The Fernet keys of the setting, first one first; ValueError says what is wrong."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise ValueError(
            f"{_SETTING} is not set; make one with `python -c 'from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())'`"
        )
    keys = []
    for n, part in enumerate(parts, 1):
        try:
            keys.append(Fernet(part))
        except ValueError:
            raise ValueError(
                f"{_SETTING} key #{n} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


class SecretBox:
    def __init__(self, key: SecretStr | str) -> None:
        value = key.get_secret_value() if isinstance(key, SecretStr) else key
        self._keys = parse_keys(value)
        self._fernet = MultiFernet(self._keys)

    @property
    def rotating(self) -> bool:
        """More than one key: rows may still be under an older one."""
        return len(self._keys) > 1

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise WebhookSecretUnreadable(
                "A stored webhook secret does not decrypt under the gateway's "
                f"{_SETTING}; no delivery is accepted against it.",
                remediation=f"Start the gateway with the key the secret was stored under (list "
                f"old keys after the new one in {_SETTING} while rotating), or set the secret "
                "again with PUT /v1/webhooks/{provider}/secret.",
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """The token re-encrypted under the first key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            return token  # left as is: reading it fails closed with the error above
