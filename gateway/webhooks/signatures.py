"""Webhook authenticity, per provider (pure): each request proves it knows the agency's secret.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.
- GitLab: ``X-Gitlab-Token: <the secret itself>`` (GitLab signs nothing), compared in constant
  time.
- PagerDuty (v3 webhooks): ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256>[,v1=<hex>...]``, one
  signature per active secret while PagerDuty rotates them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from enum import StrEnum


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    PAGERDUTY = "pagerduty"


SIGNATURE_HEADER = {
    Provider.GITHUB: "X-Hub-Signature-256",
    Provider.GITLAB: "X-Gitlab-Token",
    Provider.PAGERDUTY: "X-PagerDuty-Signature",
}


class SignatureProblem(StrEnum):
    MISSING = "missing_signature"
    INVALID = "invalid_signature"


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def github_signature(secret: str, body: bytes) -> str:
    return f"sha256={_hmac_hex(secret, body)}"


def pagerduty_signature(secret: str, body: bytes) -> str:
    return f"v1={_hmac_hex(secret, body)}"


def _github(secret: str, body: bytes, header: str) -> bool:
    scheme, _, digest = header.strip().partition("=")
    return scheme == "sha256" and _same(_hmac_hex(secret, body), digest)


def _gitlab(secret: str, header: str) -> bool:
    return hmac.compare_digest(secret.encode(), header.encode())


def _pagerduty(secret: str, body: bytes, header: str) -> bool:
    expected = _hmac_hex(secret, body)
    found = False
    for part in header.split(","):
        scheme, _, digest = part.strip().partition("=")
        # Check every signature (no early exit) so timing says nothing about which matched.
        found |= scheme == "v1" and _same(expected, digest)
    return found


def check_signature(
    provider: Provider, secret: str, body: bytes, headers: Mapping[str, str]
) -> SignatureProblem | None:
    """None when the request is authentic; ``headers`` is looked up case-insensitively by the
    caller (Starlette's headers are)."""
    header = headers.get(SIGNATURE_HEADER[provider])
    if not header:
        return SignatureProblem.MISSING
    if provider is Provider.GITHUB:
        valid = _github(secret, body, header)
    elif provider is Provider.GITLAB:
        valid = _gitlab(secret, header)
    else:
        valid = _pagerduty(secret, body, header)
    return None if valid else SignatureProblem.INVALID
