from cortex_kit.errors import CortexError


class AuthError(CortexError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class ForbiddenError(CortexError):
    status = 403
    code = "forbidden"
    title = "Forbidden"
