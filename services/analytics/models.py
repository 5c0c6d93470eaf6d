"""Tables of the analytics (schema ``analytics``)."""

from sqlalchemy import MetaData

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "analytics"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)
