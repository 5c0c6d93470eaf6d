"""The bootstrap admin API key `cortex up` gives the gateway on a data directory's first start."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ADMIN_KEY_ENVVAR",
    "ADMIN_KEY_FILE",
    "AdminKey",
    "AdminKeyError",
    "generate_admin_key",
    "load_admin_key",
]

ADMIN_KEY_FILE = "admin.key"
ADMIN_KEY_ENVVAR = "CORTEX_BOOTSTRAP_ADMIN_KEY"
_ADMIN_KEY_SHAPE = re.compile(r"cvc_[0-9a-f]{12}_[A-Za-z0-9_-]{32,64}")  # as the gateway parses it


class AdminKeyError(ValueError):
    """The saved or supplied admin key cannot be used."""


@dataclass(frozen=True)
class AdminKey:
    value: str
    path: Path
    created: bool  # written by this start (first start of this data dir)
    generated: bool  # made here, not taken from CORTEX_BOOTSTRAP_ADMIN_KEY


KEY_FORMAT = "cvc_<12 hex>_<32 to 64 of A-Z a-z 0-9 _ ->"


def generate_admin_key() -> str:
    """A new key in the gateway's `cvc_<id>_<secret>` format."""
    return f"cvc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def load_admin_key(data_dir: Path, environ: Mapping[str, str] = os.environ) -> AdminKey:
    """The data dir's bootstrap admin key, written (mode 0600) on first start."""
    path = data_dir / ADMIN_KEY_FILE
    if path.exists():
        value = path.read_text().strip()
        if not value:
            raise AdminKeyError(f"{path} is empty; delete it to create a new admin key")
        return AdminKey(value, path, created=False, generated=False)
    supplied = environ.get(ADMIN_KEY_ENVVAR, "").strip()
    if supplied and not _ADMIN_KEY_SHAPE.fullmatch(supplied):
        raise AdminKeyError(
            f"{ADMIN_KEY_ENVVAR} must look exactly like {KEY_FORMAT}, e.g. "
            "cvc_0123456789ab_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    value = supplied or generate_admin_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(value + "\n")
    return AdminKey(value, path, created=True, generated=not supplied)
