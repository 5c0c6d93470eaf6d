from cortex_kit.errors import CortexError, NotFound


class WebhookUnauthorized(CortexError):
    """The delivery's signature is wrong (or was made with another secret)."""

    status = 401
    code = "invalid_signature"
    title = "Unauthorized webhook"


class WebhookSignatureMissing(WebhookUnauthorized):
    """The delivery carries no signature, or its agency has no secret configured."""

    code = "missing_signature"


class WebhookPayloadError(CortexError):
    status = 422
    code = "webhook_payload_invalid"
    title = "Unusable webhook payload"


class WebhookSecretNotFound(NotFound):
    code = "webhook_secret_not_found"
