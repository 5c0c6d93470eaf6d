"""Tables of the policy-engine (schema ``policy``)."""

from sqlalchemy import MetaData

from cortex_kit.messaging.tables import messaging_tables

SCHEMA = "policy"
metadata = MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)
