"""Tables of the gateway (schema ``gateway``)."""

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

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
    # What the approval workflow is told the caller holds beyond `role`, and its team
    # (docs/api.md "Approvals"); lowercase identifiers, validated at creation.
    Column("approval_roles", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("team", Text),
    # The routes the key may call (``METHOD /v1/path`` patterns, docs/api.md "Keys"); NULL:
    # every route its role allows.
    Column("routes", ARRAY(Text)),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)

# Per-agency webhook secrets (docs/metrics.md "Webhooks"). Verifying an HMAC needs the secret
# itself, so it cannot be hashed: it is stored encrypted under CORTEX_GATEWAY_SECRETS_KEY
# (gateway/webhooks/crypto.py), never returned nor logged. `plaintext` only holds rows stored by
# a gateway older than migration gateway_0003 until the next gateway start encrypts them.
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("agency", Text, primary_key=True),
    Column("provider", Text, primary_key=True),
    Column("ciphertext", LargeBinary),
    Column("plaintext", Text),
    Column("updated_by", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "(ciphertext IS NULL) <> (plaintext IS NULL)", name="ck_webhook_secrets_one_form"
    ),
)

# Every version of each agency's delivery mapping (docs/metrics.md "Mappings"); the highest
# version is the one in force. Versions are only added: the history is the audit trail.
delivery_mappings = Table(
    "delivery_mappings",
    metadata,
    Column("agency", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("version > 0", name="ck_delivery_mappings_version"),
)
