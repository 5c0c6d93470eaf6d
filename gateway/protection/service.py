"""Wiring of the protection: the shared bucket's statement, the limiter, the nightly sweep."""

from __future__ import annotations

import asyncio
import contextlib

from cortex_kit.db import Database
from cortex_kit.logs import get_logger
from gateway.protection import repository
from gateway.protection.limits import RateLimit, RateLimiter, TakeTokens
from gateway.protection.repository import Grant

log = get_logger("gateway.protection")
SWEEP_INTERVAL_S = 600.0
_IDLE_BUCKET_S = 3600.0


def shared_bucket(db: Database) -> TakeTokens:
    """Take tokens with one autocommitted statement (no BEGIN/COMMIT round trips)."""

    async def take(key_id: str, limit: RateLimit, want: int) -> Grant:
        async with db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await repository.take_tokens(
                autocommit, key_id, rate=limit.per_s, burst=limit.burst, want=want
            )

    return take


def limiter(
    db: Database, default: RateLimit, lease_s: float, overrides: dict[str, RateLimit]
) -> RateLimiter:
    return RateLimiter(shared_bucket(db), default, lease_s=lease_s, overrides=overrides)


async def sweep_forever(db: Database, interval_s: float = SWEEP_INTERVAL_S) -> None:
    """Delete expired idempotency keys and idle buckets now and then (every replica does;
    the statements are idempotent)."""
    while True:
        await asyncio.sleep(interval_s)
        with contextlib.suppress(Exception):  # an outage: the next round sweeps
            async with db.session() as session:
                keys, buckets = await repository.sweep(session, _IDLE_BUCKET_S)
            if keys or buckets:
                log.info("protection.swept", idempotency_keys=keys, rate_buckets=buckets)
