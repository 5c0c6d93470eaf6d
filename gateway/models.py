"""Tables of the gateway (schema ``gateway``)."""

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
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

# The audit chain (docs/api.md "Audit log"): one row per state-changing request, each sealed
# with sha256 over its canonical form and the previous row's hash (gateway/domain/audit.py).
# Rows are only appended, under the lock of the single `audit_head` row, so `seq` is dense and
# the chain linear across concurrent requests and replicas.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text),
    Column("role", Text),
    Column("agency", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", JSONB, nullable=False),
    Column("outcome", Integer, nullable=False),
    Column("request_id", Text),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)

# The chain's head: the last row's seq and hash (seq 0 and 32 zero bytes before the first row).
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    CheckConstraint("id = 1", name="ck_audit_head_single"),
)

# Per-key token buckets shared by every replica (gateway/protection/limits.py): the tokens left
# at `refilled_at`; what was refilled since is computed by the statement that takes tokens.
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("granted", Integer, nullable=False),
    Column("refilled_at", DateTime(timezone=True), nullable=False),
)

# Idempotency-Key of creating POSTs (gateway/protection/idempotency.py), per API key: the
# request's hash, then the answer once it succeeded. An `in_progress` row whose holder has not
# finished by `locked_until` (a replica that died) may be taken over.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
    Column("request_hash", LargeBinary, nullable=False),
    Column("status", Integer),
    Column("media_type", Text),
    Column("headers", JSONB),
    Column("body", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("locked_until", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
