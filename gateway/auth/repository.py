"""All SQL of API keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.keys import Role
from gateway.models import api_keys

_K = api_keys


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as listed: every column of ``api_keys`` but the secret's hash."""

    id: str
    name: str
    agency: str
    role: Role
    approval_roles: list[str]
    team: str | None
    routes: list[str] | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """What verifying a key needs (an active key: ``revoked_at`` is null)."""

    id: str
    secret_hash: bytes
    agency: str
    role: Role
    approval_roles: list[str]
    team: str | None
    routes: list[str] | None


async def find_active(session: AsyncSession, key_id: str) -> ActiveKey | None:
    row = (
        await session.execute(
            select(
                _K.c.id,
                _K.c.secret_hash,
                _K.c.agency,
                _K.c.role,
                _K.c.approval_roles,
                _K.c.team,
                _K.c.routes,
            ).where(_K.c.id == key_id, _K.c.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return ActiveKey(
        row.id,
        bytes(row.secret_hash),
        row.agency,
        Role(row.role),
        list(row.approval_roles),
        row.team,
        None if row.routes is None else list(row.routes),
    )


async def insert_key(
    session: AsyncSession,
    *,
    id: str,
    secret_hash: bytes,
    name: str,
    agency: str,
    role: Role,
    created_by: str | None,
    approval_roles: Sequence[str] = (),
    team: str | None = None,
    routes: Sequence[str] | None = None,
) -> None:
    await session.execute(
        insert(_K).values(
            id=id,
            secret_hash=secret_hash,
            name=name,
            agency=agency,
            role=role.value,
            approval_roles=list(approval_roles),
            team=team,
            routes=None if routes is None else list(routes),
            created_by=created_by,
        )
    )


async def any_key_exists(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(_K)))


async def lock_bootstrap(session: AsyncSession) -> None:
    """Serialise the bootstrap of replicas starting together (held until commit)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('cortex-gateway-bootstrap'))")
    )


async def list_keys(session: AsyncSession, agency: str | None) -> list[KeyRow]:
    stmt = select(
        _K.c.id,
        _K.c.name,
        _K.c.agency,
        _K.c.role,
        _K.c.approval_roles,
        _K.c.team,
        _K.c.routes,
        _K.c.created_by,
        _K.c.created_at,
        _K.c.revoked_at,
    ).order_by(_K.c.created_at)
    if agency is not None:
        stmt = stmt.where(_K.c.agency == agency)
    return [
        KeyRow(
            r.id,
            r.name,
            r.agency,
            Role(r.role),
            list(r.approval_roles),
            r.team,
            None if r.routes is None else list(r.routes),
            r.created_by,
            r.created_at,
            r.revoked_at,
        )
        for r in await session.execute(stmt)
    ]


async def revoke(session: AsyncSession, key_id: str) -> bool:
    result = await session.execute(
        update(_K)
        .where(_K.c.id == key_id, _K.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(_K.c.id)
    )
    return result.first() is not None
