"""Autogenerate an Alembic migration for one service against a throwaway embedded PostgreSQL.

    .venv/bin/python scripts/new_migration.py policy_engine "budgets and decisions"

Applies the service's existing migrations to an empty database, then compares its models with
it and writes a dated revision file into ``<service>/migrations/versions/``. Review it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Connection

from cortex_kit.db import Database
from cortex_kit.embedded import EmbeddedPostgres, free_port
from cortex_kit.migrations import alembic_config, upgrade_to_head


async def _generate(service: str, message: str, url: str) -> None:
    settings = importlib.import_module(f"{service}.settings").Settings()
    pkg = importlib.import_module(service)
    migrations = Path(pkg.__path__[0]) / "migrations"
    db = Database(url)
    await upgrade_to_head(db, migrations, settings.schema_name)
    cfg = alembic_config(migrations, settings.schema_name)
    stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H%M")
    cfg.set_main_option("file_template", f"{stamp}_%%(slug)s")

    def _revision(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)

    async with db.engine.connect() as conn:
        await conn.run_sync(_revision)
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("message")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o755)  # PostgreSQL may run as an unprivileged user
        pg = EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=False)
        pg.start()
        try:
            pg.ensure_database("cortex")
            asyncio.run(_generate(args.service, args.message, pg.url("cortex")))
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
