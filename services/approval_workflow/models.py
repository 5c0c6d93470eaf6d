"""Tables of the approval-workflow (schema ``approval``)."""

from sqlalchemy import MetaData

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "approval"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)
