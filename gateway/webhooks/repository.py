"""All SQL of webhook secrets; the secrets are encrypted here and decrypted here (crypto.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import webhook_secrets
from gateway.webhooks.crypto import SecretBox

_W = webhook_secrets


@dataclass(frozen=True, slots=True)
class SecretRow:
    """Everything about a stored secret but the secret."""

    updated_by: str | None
    updated_at: datetime


async def ciphertext_of(session: AsyncSession, agency: str, provider: str) -> bytes | None:
    """The secret as stored (encrypted), or None when the agency set none."""
    token = await session.scalar(
        select(_W.c.ciphertext).where(_W.c.agency == agency, _W.c.provider == provider)
    )
    return None if token is None else bytes(token)


async def status_of(session: AsyncSession, agency: str, provider: str) -> SecretRow | None:
    """Everything about the secret but the secret, or None when the agency set none."""
    row = (
        await session.execute(
            select(_W.c.updated_by, _W.c.updated_at).where(
                _W.c.agency == agency, _W.c.provider == provider
            )
        )
    ).first()
    return None if row is None else SecretRow(row.updated_by, row.updated_at)


async def put_secret(
    session: AsyncSession, agency: str, provider: str, token: bytes, updated_by: str
) -> SecretRow:
    """Store the (already encrypted) secret."""
    stmt = pg_insert(_W).values(
        agency=agency, provider=provider, ciphertext=token, updated_by=updated_by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_W.c.agency, _W.c.provider],
        set_={
            "ciphertext": stmt.excluded.ciphertext,
            "plaintext": None,
            "updated_by": updated_by,
            "updated_at": func.now(),
        },
    )
    row = (await session.execute(stmt.returning(_W.c.updated_by, _W.c.updated_at))).one()
    return SecretRow(row.updated_by, row.updated_at)


async def delete_secret(session: AsyncSession, agency: str, provider: str) -> bool:
    result = await session.execute(
        delete(_W).where(_W.c.agency == agency, _W.c.provider == provider).returning(_W.c.agency)
    )
    return result.first() is not None


async def seal_stored_secrets(session: AsyncSession, box: SecretBox) -> int:
    """Encrypt the rows an older gateway stored in plaintext (migration gateway_0003 cannot: it
    has no key) and, while keys rotate, re-encrypt the others under the first key. Concurrent
    replicas are harmless: each row changes only from the state it was read in."""
    columns = (_W.c.agency, _W.c.provider, _W.c.plaintext, _W.c.ciphertext)
    rows = (await session.execute(select(*columns))).all()
    changed = 0
    for agency, provider, plaintext, ciphertext in rows:
        key = (_W.c.agency == agency) & (_W.c.provider == provider)
        if plaintext is not None:
            stmt = update(_W).where(key, _W.c.plaintext.is_not(None))
            values = {"ciphertext": box.encrypt(str(plaintext)), "plaintext": None}
        elif box.rotating and ciphertext is not None:
            stmt = update(_W).where(key, _W.c.ciphertext == ciphertext)
            values = {"ciphertext": box.rotate(bytes(ciphertext))}
        else:
            continue
        result = await session.execute(stmt.values(**values).returning(_W.c.agency))
        changed += result.first() is not None
    return changed
