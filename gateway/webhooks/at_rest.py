"""Gateway start: bind the webhook secret box to the database and encrypt what is not yet."""

from __future__ import annotations

from pydantic import SecretStr

from cortex_kit.logs import get_logger
from cortex_kit.runtime import Runtime
from gateway.webhooks import repository
from gateway.webhooks.crypto import SecretBox, bind_secret_box

log = get_logger("gateway.webhooks")


async def start_secrets_at_rest(rt: Runtime, key: SecretStr) -> None:
    box = SecretBox(key)
    bind_secret_box(rt.db, box)
    async with rt.db.session() as session:
        sealed = await repository.seal_stored_secrets(session, box)
    if sealed:
        log.info("webhook.secrets_sealed", rows=sealed)
