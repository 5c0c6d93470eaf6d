"""Alembic per service: one schema, one version table, applied at start under an advisory lock."""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text

from cortex_kit.db import Database

VERSION_TABLE = "alembic_version"


def alembic_config(migrations_dir: Path, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["schema"] = schema
    return cfg


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py`` (online mode on a given connection)."""
    cfg = context.config
    schema: str = cfg.attributes["schema"]
    connection: Connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"cortex-migrations:{schema}".encode())


async def upgrade_to_head(db: Database, migrations_dir: Path, schema: str) -> None:
    """Create the schema and apply every migration; replicas serialise on an advisory lock."""
    cfg = alembic_config(migrations_dir, schema)

    def _upgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(schema)})
        try:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
            await conn.run_sync(_upgrade)
            await conn.commit()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(schema)})
            await conn.commit()


async def pending_migrations(db: Database, migrations_dir: Path, schema: str) -> str | None:
    """None when the database is at head, else a reason (used by ``/readyz``)."""
    heads = set(ScriptDirectory.from_config(alembic_config(migrations_dir, schema)).get_heads())

    def _current(conn: Connection) -> set[str]:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema}
        )
        return set(ctx.get_current_heads())

    async with db.engine.connect() as conn:
        current = await conn.run_sync(_current)
    if current != heads:
        return f"schema {schema} at {sorted(current) or 'nothing'}, expected {sorted(heads)}"
    return None


def create_messaging_tables(schema: str) -> None:
    """Used by each service's first migration: the outbox and inbox of that schema."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("msg_id", sa.Text, nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column(
            "headers", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("msg_id", sa.Text, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("consumer", "msg_id", name="pk_inbox"),
        schema=schema,
    )
