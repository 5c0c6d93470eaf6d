"""The secrets `cortex up` makes on a data directory's first start and keeps there (mode 0600).

- ``internal.secret``: the HMAC secret the gateway signs its calls to the services with
  (``CORTEX_<PROCESS>_INTERNAL_SECRET`` of every process);
- ``secrets.key``: the Fernet key the gateway encrypts webhook secrets with at rest
  (``CORTEX_GATEWAY_SECRETS_KEY``);
- ``postgres.password``: the password of the embedded PostgreSQL's ``postgres`` user (in every
  process's ``DATABASE_URL``).

Each is read back on later starts; deleting one makes a new one (see docs/operations.md
"Security" for what that means for each).
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INTERNAL_SECRET_FILE",
    "POSTGRES_PASSWORD_FILE",
    "SECRETS_KEY_FILE",
    "ClusterSecrets",
    "ClusterSecretsError",
    "load_cluster_secrets",
]

INTERNAL_SECRET_FILE = "internal.secret"  # noqa: S105 (a file name)
SECRETS_KEY_FILE = "secrets.key"
POSTGRES_PASSWORD_FILE = "postgres.password"  # noqa: S105 (a file name)


class ClusterSecretsError(ValueError):
    """A kept secret cannot be used."""


@dataclass(frozen=True)
class ClusterSecrets:
    internal_secret: str
    secrets_key: str
    postgres_password: str
    postgres_password_created: bool  # made by this start: PostgreSQL may not know it yet

    def __repr__(self) -> str:  # never print a secret by accident
        return "ClusterSecrets(…)"


def _fernet_key() -> str:
    # What cryptography's Fernet.generate_key() makes, without importing it into the SDK.
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _kept(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The secret in ``path`` (tightened to 0600 if it was looser), or a new one written there."""
    if path.exists():
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        value = path.read_text().strip()
        if not value:
            raise ClusterSecretsError(f"{path} is empty; delete it to make a new one")
        return value, False
    value = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(value + "\n")
    return value, True


def load_cluster_secrets(data_dir: Path) -> ClusterSecrets:
    """The data dir's secrets, each made on first start."""
    internal, _ = _kept(data_dir / INTERNAL_SECRET_FILE, lambda: secrets.token_urlsafe(32))
    key, _ = _kept(data_dir / SECRETS_KEY_FILE, _fernet_key)
    password, created = _kept(data_dir / POSTGRES_PASSWORD_FILE, lambda: secrets.token_urlsafe(24))
    return ClusterSecrets(internal, key, password, created)
