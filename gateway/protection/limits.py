"""Per-key rate limits: a token bucket per API key, shared by every gateway replica.

The bucket lives in PostgreSQL (``rate_buckets``, one UPSERT that refills and takes). A
replica does not ask it on every request: it takes a *lease* of a few tokens at once and
spends them locally, so the database sees one statement per ``lease`` requests of a key per
replica — the hot path (``POST /v1/authorize``) stays a dictionary lookup.

- A lease holds ``ceil(rate * lease_s)`` tokens, at least 1 and at most a quarter of the burst:
  a key used slowly (the limit matters) costs one statement per request and is exact; a key
  used fast costs one per lease.
- Tokens are only ever taken from the shared bucket, so the replicas together never admit
  more than the bucket allows. A lease a replica no longer needs (the client moved to another
  replica) is lost when it expires after ``lease_s``: the limit can only be stricter, by at most
  one lease per replica.
- A refusal is remembered locally until the next token is due (``Retry-After``): a key over
  its limit costs no statement until then.
- While PostgreSQL is unreachable each replica limits on its own with a local bucket of the
  same rate and burst (N replicas then admit up to N times the limit), and logs it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from cachetools import TTLCache
from pydantic import BaseModel, Field

from cortex_kit.logs import get_logger
from gateway.protection.repository import Grant

log = get_logger("gateway.protection")
_KEYS = 100_000
_LEASE_MEMORY_S = 600.0


class RateLimit(BaseModel):
    """Requests per second a key may make on average, and how many at once."""

    per_s: float = Field(gt=0)
    burst: int = Field(ge=1)


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after_s: float
    limit: RateLimit


TakeTokens = Callable[[str, RateLimit, int], Awaitable[Grant]]
"""Take up to ``want`` tokens from the shared bucket of a key."""


@dataclass
class _Lease:
    tokens: int = 0
    until: float = 0.0
    refused_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _LocalBucket:
    tokens: float
    at: float

    def take(self, limit: RateLimit, want: int, now: float) -> Grant:
        self.tokens = min(float(limit.burst), self.tokens + (now - self.at) * limit.per_s)
        self.at = now
        granted = min(want, math.floor(self.tokens))
        self.tokens -= granted
        return Grant(granted, self.tokens)


class RateLimiter:
    def __init__(
        self,
        take: TakeTokens,
        default: RateLimit,
        *,
        lease_s: float,
        overrides: Mapping[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._take = take
        self._default = default
        self._overrides = dict(overrides or {})
        self._lease_s = lease_s
        self._clock = clock
        self._leases: TTLCache[str, _Lease] = TTLCache(_KEYS, _LEASE_MEMORY_S)
        self._fallback: TTLCache[str, _LocalBucket] = TTLCache(_KEYS, _LEASE_MEMORY_S)

    def limit_for(self, key_id: str) -> RateLimit:
        return self._overrides.get(key_id, self._default)

    def lease_size(self, limit: RateLimit) -> int:
        return max(1, min(math.ceil(limit.per_s * self._lease_s), limit.burst // 4))

    async def admit(self, key_id: str) -> Refusal | None:
        """None: the request may go on; else when to retry."""
        lease = self._leases.get(key_id)
        if lease is None:
            lease = self._leases[key_id] = _Lease()
        if self._spend(lease):
            return None
        refusal = self._refused(lease, key_id)
        if refusal is not None:
            return refusal
        async with lease.lock:  # one statement per key and replica at a time
            if self._spend(lease):
                return None
            return self._refused(lease, key_id) or await self._renew(lease, key_id)

    def _spend(self, lease: _Lease) -> bool:
        if lease.tokens > 0 and self._clock() < lease.until:
            lease.tokens -= 1
            return True
        return False

    def _refused(self, lease: _Lease, key_id: str) -> Refusal | None:
        wait = lease.refused_until - self._clock()
        return Refusal(wait, self.limit_for(key_id)) if wait > 0 else None

    async def _renew(self, lease: _Lease, key_id: str) -> Refusal | None:
        limit = self.limit_for(key_id)
        want = self.lease_size(limit)
        grant = await self._granted(key_id, limit, want)
        now = self._clock()
        if grant.granted <= 0:
            wait = max((1.0 - grant.tokens_left) / limit.per_s, 0.001)
            lease.tokens, lease.refused_until = 0, now + wait
            return Refusal(wait, limit)
        lease.tokens, lease.until = grant.granted - 1, now + self._lease_s
        return None

    async def _granted(self, key_id: str, limit: RateLimit, want: int) -> Grant:
        try:
            return await self._take(key_id, limit, want)
        except Exception as exc:  # an outage of the shared store: limit on this replica alone
            log.warning(
                "rate_limit.shared_bucket_unavailable",
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            now = self._clock()
            bucket = self._fallback.get(key_id)
            if bucket is None:
                bucket = self._fallback[key_id] = _LocalBucket(float(limit.burst), now)
            return bucket.take(limit, want, now)
