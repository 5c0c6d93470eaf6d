"""The rate limiter's leases over a fake shared bucket and a test clock (no database)."""

from __future__ import annotations

import math

from gateway.protection.limits import RateLimit, RateLimiter
from gateway.protection.repository import Grant


class SharedBucket:
    """The token bucket the database keeps, computed the same way, on the test clock."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.tokens: dict[str, tuple[float, float]] = {}
        self.calls = 0
        self.down = False

    async def take(self, key_id: str, limit: RateLimit, want: int) -> Grant:
        self.calls += 1
        if self.down:
            raise OSError("connection refused")
        now = self.clock[0]
        tokens, at = self.tokens.get(key_id, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.per_s)
        granted = min(want, math.floor(tokens))
        self.tokens[key_id] = (tokens - granted, now)
        return Grant(granted, tokens - granted)


def limiter(
    bucket: SharedBucket, clock: list[float], per_s: float, burst: int, lease_s: float = 0.2
) -> RateLimiter:
    return RateLimiter(
        bucket.take, RateLimit(per_s=per_s, burst=burst), lease_s=lease_s, clock=lambda: clock[0]
    )


async def admitted(limiter: RateLimiter, key: str, n: int) -> int:
    return sum([await limiter.admit(key) is None for _ in range(n)])


async def test_two_replicas_together_admit_the_burst_and_no_more() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    one, two = limiter(bucket, clock, 0.01, 4), limiter(bucket, clock, 0.01, 4)
    answers = [await (one if i % 2 else two).admit("k") is None for i in range(10)]
    assert sum(answers) == 4


async def test_a_slow_key_asks_the_bucket_every_time_a_fast_one_per_lease() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    fast = limiter(bucket, clock, per_s=1000, burst=2000)
    assert fast.lease_size(RateLimit(per_s=1000, burst=2000)) == 200
    assert await admitted(fast, "k", 1000) == 1000
    assert bucket.calls == 5
    assert fast.lease_size(RateLimit(per_s=1, burst=10)) == 1


async def test_a_refusal_says_when_the_next_token_is_due_and_costs_no_call_until_then() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    slow = limiter(bucket, clock, per_s=0.5, burst=1)
    assert await slow.admit("k") is None
    refusal = await slow.admit("k")
    assert refusal is not None
    assert math.isclose(refusal.retry_after_s, 2.0)
    calls = bucket.calls
    clock[0] = 1.0
    assert await slow.admit("k") is not None
    assert bucket.calls == calls
    clock[0] = 2.01
    assert await slow.admit("k") is None


async def test_the_bucket_refills_at_its_rate() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    limited = limiter(bucket, clock, per_s=2, burst=2)
    assert await admitted(limited, "k", 5) == 2
    clock[0] = 1.0
    assert await admitted(limited, "k", 5) == 2


async def test_an_expired_lease_is_not_spent() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    limited = limiter(bucket, clock, per_s=100, burst=100, lease_s=0.2)
    assert await limited.admit("k") is None  # takes a lease of 20
    clock[0] = 5.0
    calls = bucket.calls
    assert await limited.admit("k") is None
    assert bucket.calls == calls + 1


async def test_overrides_apply_per_key() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    limited = RateLimiter(
        bucket.take,
        RateLimit(per_s=0.01, burst=1),
        lease_s=0.2,
        overrides={"ci": RateLimit(per_s=0.01, burst=3)},
        clock=lambda: clock[0],
    )
    assert await admitted(limited, "other", 5) == 1
    assert await admitted(limited, "ci", 5) == 3


async def test_an_outage_of_the_shared_bucket_limits_on_the_replica_alone() -> None:
    clock = [0.0]
    bucket = SharedBucket(clock)
    bucket.down = True
    limited = limiter(bucket, clock, per_s=0.01, burst=3)
    assert await admitted(limited, "k", 5) == 3
