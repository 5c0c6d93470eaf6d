"""Tables of the gateway (schema ``gateway``)."""

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, Table, Text, func

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "gateway"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("name", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)
