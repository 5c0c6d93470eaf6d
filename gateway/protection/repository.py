"""All SQL of the protection: the shared token buckets and the idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Float, Integer, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.models import idempotency_keys, rate_buckets

_R = rate_buckets
_I = idempotency_keys


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    tokens_left: float


def _take_statement() -> Any:
    rate = bindparam("rate", type_=Float)
    burst = bindparam("burst", type_=Float)
    want = bindparam("want", type_=Integer)
    elapsed = func.greatest(0.0, func.extract("epoch", func.now() - _R.c.refilled_at))
    available = func.least(burst, _R.c.tokens + elapsed * rate)
    granted = func.least(want, func.floor(available))
    first = func.least(want, burst)
    return (
        insert(_R)
        .values(
            key_id=bindparam("key_id"), tokens=burst - first, granted=first, refilled_at=func.now()
        )
        .on_conflict_do_update(
            index_elements=[_R.c.key_id],
            set_={
                "granted": granted,
                "tokens": available - granted,
                "refilled_at": func.greatest(_R.c.refilled_at, func.now()),
            },
        )
        .returning(_R.c.granted, _R.c.tokens)
    )


_TAKE = _take_statement()


async def take_tokens(
    conn: AsyncConnection, key_id: str, *, rate: float, burst: int, want: int
) -> Grant:
    """Up to ``want`` tokens from the key's bucket, refilled at ``rate`` per second since it was
    last touched, never above ``burst`` (one statement: the row lock orders the replicas)."""
    row = (
        await conn.execute(
            _TAKE, {"key_id": key_id, "rate": rate, "burst": float(burst), "want": want}
        )
    ).one()
    return Grant(int(row.granted), float(row.tokens))


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: bytes
    status: int | None
    """None while the first request is still running."""
    media_type: str | None
    headers: dict[str, str]
    body: bytes


async def claim(
    session: AsyncSession,
    key_id: str,
    key: str,
    request_hash: bytes,
    *,
    lock_s: float,
    ttl_s: float,
) -> bool:
    """Take the key for this request: a new key, an expired one, or one whose holder gave no
    answer by ``locked_until`` (a replica that died). False: another request holds it."""
    now = func.now()
    values = {
        "request_hash": request_hash,
        "locked_until": now + timedelta(seconds=lock_s),
        "expires_at": now + timedelta(seconds=ttl_s),
    }
    statement = (
        insert(_I)
        .values(key_id=key_id, idempotency_key=key, **values)
        .on_conflict_do_update(
            index_elements=[_I.c.key_id, _I.c.idempotency_key],
            set_={
                **values,
                "status": None,
                "media_type": None,
                "headers": None,
                "body": None,
                "created_at": now,
            },
            where=or_(_I.c.expires_at < now, and_(_I.c.status.is_(None), _I.c.locked_until < now)),
        )
        .returning(_I.c.key_id)
    )
    return (await session.execute(statement)).first() is not None


async def stored(session: AsyncSession, key_id: str, key: str) -> StoredAnswer | None:
    row = (
        await session.execute(
            select(_I.c.request_hash, _I.c.status, _I.c.media_type, _I.c.headers, _I.c.body).where(
                _I.c.key_id == key_id, _I.c.idempotency_key == key
            )
        )
    ).first()
    if row is None:
        return None
    return StoredAnswer(
        bytes(row.request_hash),
        row.status,
        row.media_type,
        dict(row.headers or {}),
        bytes(row.body or b""),
    )


async def complete(
    session: AsyncSession,
    key_id: str,
    key: str,
    request_hash: bytes,
    *,
    status: int,
    media_type: str | None,
    headers: dict[str, str],
    body: bytes,
) -> None:
    await session.execute(
        update(_I)
        .where(
            _I.c.key_id == key_id, _I.c.idempotency_key == key, _I.c.request_hash == request_hash
        )
        .values(status=status, media_type=media_type, headers=headers, body=body)
    )


async def release(session: AsyncSession, key_id: str, key: str, request_hash: bytes) -> None:
    """Forget a key whose request did not succeed, so that a retry runs again."""
    await session.execute(
        delete(_I).where(
            _I.c.key_id == key_id,
            _I.c.idempotency_key == key,
            _I.c.request_hash == request_hash,
            _I.c.status.is_(None),
        )
    )


async def sweep(session: AsyncSession, idle_bucket_s: float) -> tuple[int, int]:
    """Delete expired idempotency keys and buckets untouched for ``idle_bucket_s`` (full
    again by then)."""
    keys = await session.execute(delete(_I).where(_I.c.expires_at < func.now()))
    buckets = await session.execute(
        delete(_R).where(_R.c.refilled_at < func.now() - timedelta(seconds=idle_bucket_s))
    )
    return int(keys.rowcount), int(buckets.rowcount)  # type: ignore[attr-defined]
