"""Signing outgoing notifications: ``X-Cortex-Signature: t=<unix seconds>,v1=<hex>``, where
``v1`` is HMAC-SHA256 under the agency's secret of ``"<t>.<body>"`` (as Stripe and Slack sign
theirs). The timestamp is signed, so a receiver refuses replays older than a few minutes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Cortex-Signature"
DELIVERY_HEADER = "X-Cortex-Delivery"  # the notification's id: the same on every retry
EVENT_HEADER = "X-Cortex-Event"  # approval.<event>
ATTEMPT_HEADER = "X-Cortex-Attempt"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance_s: float = 300) -> bool:
    """What a receiver checks (docs/approvals.md has the same in a snippet to copy)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
