"""Process state of the gateway beyond the kit's runtime: key cache and upstream clients."""

from __future__ import annotations

from dataclasses import dataclass

from cortex_kit.runtime import StateSlot
from gateway.auth.oidc import OidcVerifier
from gateway.auth.service import KeyCache
from gateway.mappings.service import MappingCache
from gateway.protection.idempotency import IdempotencyPolicy
from gateway.protection.limits import RateLimiter
from gateway.upstream import Upstreams
from gateway.webhooks.crypto import SecretBox


@dataclass
class GatewayState:
    key_cache: KeyCache
    upstreams: Upstreams
    max_events: int
    secrets: SecretBox
    """Encrypts and decrypts the webhook secrets (CORTEX_GATEWAY_SECRETS_KEY)."""
    mappings: MappingCache
    """Each agency's delivery mapping in force, for a few seconds (webhook deliveries)."""
    limiter: RateLimiter | None
    """The per-key token buckets (None: rate limits off)."""
    idempotency: IdempotencyPolicy
    preflight_deadline_s: float = 2.0
    """How long preflight waits for every service it asks (CORTEX_GATEWAY_PREFLIGHT_DEADLINE_S)."""
    people: OidcVerifier | None = None
    """Verifies people's OIDC tokens (CORTEX_GATEWAY_OIDC_*); None: API keys only."""


gateway_state: StateSlot[GatewayState] = StateSlot()
"""``gateway_state(request)``: the gateway's state, typed (the cheap accessor)."""

__all__ = ["GatewayState", "gateway_state"]
