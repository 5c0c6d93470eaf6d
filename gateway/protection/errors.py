"""The protection's errors (one class per code): rate limits and Idempotency-Key."""

from __future__ import annotations

from cortex_kit.errors import Conflict, CortexError
from cortex_kit.errors import IdempotencyKeyReused as IdempotencyKeyReused


class RateLimited(CortexError):
    """The key spent its token bucket; ``Retry-After`` says when the next token is there."""

    status = 429
    code = "rate_limited"
    title = "Rate limited"
    extra_schema = {
        "limit_per_s": {"type": "number"},
        "burst": {"type": "integer"},
        "retry_after_s": {"type": "number"},
    }


class InvalidIdempotencyKey(CortexError):
    status = 422
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key"


class IdempotencyInProgress(Conflict):
    """The first request with this key is still running."""

    code = "idempotency_in_progress"
    title = "Idempotent request in progress"
    retry_after_s = 1


IDEMPOTENT_ROUTE: tuple[type[CortexError], ...] = (
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyInProgress,
)
"""What a creating POST may also answer about its ``Idempotency-Key``."""
