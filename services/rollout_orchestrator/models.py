"""Tables of the rollout-orchestrator (schema ``rollout``)."""

from sqlalchemy import MetaData

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "rollout"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)
