"""Signing for tests and benchmarks that call a service directly, as the gateway would.

``httpx.AsyncClient(auth=signed(), headers={AGENCY_HEADER: "acme"})`` reaches a service started
with ``internal_secret=TEST_INTERNAL_SECRET``; without ``auth`` the service answers 401.
"""

from __future__ import annotations

from cortex_kit.internal_auth import InternalSigner

__all__ = ["TEST_INTERNAL_SECRET", "TEST_SECRETS_KEY", "signed"]

# Fixed, so that processes started by different fixtures of one test trust each other.
TEST_INTERNAL_SECRET = "test-only-internal-secret-4f7c2a9e81d3b6f0"  # noqa: S105 (tests only)
# A Fernet key (32 bytes, url-safe base64) for the gateway's secrets at rest, tests only.
TEST_SECRETS_KEY = "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE="


def signed(secret: str = TEST_INTERNAL_SECRET) -> InternalSigner:
    """httpx auth that signs every request with ``secret``."""
    return InternalSigner(secret)
