from cortex_kit.errors import CortexError


class WebhookUnauthorized(CortexError):
    status = 401
    code = "invalid_signature"
    title = "Unauthorized webhook"


class WebhookPayloadError(CortexError):
    status = 422
    code = "webhook_payload_invalid"
    title = "Unusable webhook payload"
