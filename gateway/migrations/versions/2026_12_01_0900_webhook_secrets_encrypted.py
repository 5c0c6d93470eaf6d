"""webhook secrets encrypted at rest

The secret moves to ``ciphertext`` (Fernet under CORTEX_GATEWAY_SECRETS_KEY). A migration has no
key, so rows stored in plaintext by an older gateway keep their value in ``plaintext`` until the
next gateway start encrypts them (gateway.webhooks.repository.seal_stored_secrets) and clears it;
the check constraint keeps exactly one of the two set.

Revision ID: gateway_0003
Revises: gateway_0002
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0003"
down_revision: str | None = "gateway_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "webhook_secrets", "secret", new_column_name="plaintext", nullable=True, schema="gateway"
    )
    op.add_column(
        "webhook_secrets",
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        schema="gateway",
    )
    op.create_check_constraint(
        "ck_webhook_secrets_one_form",
        "webhook_secrets",
        "(ciphertext IS NULL) <> (plaintext IS NULL)",
        schema="gateway",
    )


def downgrade() -> None:
    # Encrypted rows cannot be turned back into plaintext without the key: they are dropped.
    op.execute("DELETE FROM gateway.webhook_secrets WHERE plaintext IS NULL")
    op.drop_constraint("ck_webhook_secrets_one_form", "webhook_secrets", schema="gateway")
    op.drop_column("webhook_secrets", "ciphertext", schema="gateway")
    op.alter_column(
        "webhook_secrets", "plaintext", new_column_name="secret", nullable=False, schema="gateway"
    )
