"""Gateway start: encrypt (or re-encrypt under the first key) what is not yet."""

from __future__ import annotations

from cortex_kit.logs import get_logger
from cortex_kit.runtime import Runtime
from gateway.webhooks import repository
from gateway.webhooks.crypto import SecretBox

log = get_logger("gateway.webhooks")


async def start_secrets_at_rest(rt: Runtime, box: SecretBox) -> None:
    async with rt.db.session() as session:
        sealed = await repository.seal_stored_secrets(session, box)
    if sealed:
        log.info("webhook.secrets_sealed", rows=sealed)
