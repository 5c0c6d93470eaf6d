"""Error classes, one per problem ``code``, rendered as RFC 9457 problem details by the web
layer, and the OpenAPI ``responses`` a route declares with them (``problem_responses``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

DOCS_BASE = "https://codevald.io/cortex/docs/errors"


class CortexError(Exception):
    """An expected failure with an HTTP status, a stable ``code`` and a ``remediation``.

    Services subclass it (one base per service, one class per code) and raise it from use
    cases; the web layer renders it as ``application/problem+json``. Never raise
    ``HTTPException`` from services.
    """

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # Seconds a client should wait before retrying (the ``Retry-After`` header), if it may.
    retry_after_s: ClassVar[int | None] = None
    # JSON Schema of the members ``extra`` adds to the body (``schema()`` lists them).
    extra_schema: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, detail: str, *, remediation: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.remediation = remediation
        self.extra = extra or {}

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """JSON Schema of this class's problem+json body: its ``code`` and ``status`` consts."""
        return {
            "title": cls.__name__,
            "description": cls.title,
            "type": "object",
            "required": ["type", "title", "status", "code", "detail", "remediation"],
            "properties": {
                "type": {"type": "string", "const": f"{DOCS_BASE}#{cls.code}"},
                "title": {"type": "string"},
                "status": {"type": "integer", "const": cls.status},
                "code": {"type": "string", "const": cls.code},
                "detail": {"type": "string"},
                "remediation": {"type": "string"},
                "instance": {"type": "string"},
                **cls.extra_schema,
            },
        }

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"{DOCS_BASE}#{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "remediation": self.remediation,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(CortexError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(CortexError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(CortexError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(CortexError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unavailable(CortexError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"
    retry_after_s = 2


class UpstreamUnavailable(Unavailable):
    """A dependency (PostgreSQL, NATS, another service) did not answer: retry shortly."""

    code = "upstream_unavailable"
    extra_schema = {"dependency": {"type": "string"}}


class UpstreamTimeout(CortexError):
    """A service took longer than the gateway's upstream timeout: the call's outcome is
    unknown (it may have been applied)."""

    status = 504
    code = "upstream_timeout"
    title = "Upstream timeout"
    extra_schema = {"service": {"type": "string"}, "timeout_s": {"type": "number"}}


class IdempotencyKeyReused(CortexError):
    """An ``Idempotency-Key`` already used for another request (another body, route or query):
    the gateway's check on every creating POST, and a service's own on what it creates."""

    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused"


class InvalidValue(CortexError):
    """Input the store cannot hold (a NUL character, a number out of range)."""

    status = 422
    code = "invalid_value"
    title = "Invalid value"


class AgencyRequired(CortexError):
    """The call does not say which agency it acts for."""

    code = "agency_required"
    title = "Agency required"


class AgencyForbidden(Forbidden):
    """The call names an agency its caller may not act for."""

    code = "agency_forbidden"


class InvalidRequest(CortexError):
    """The request does not match the route's schema (query, path, headers or body)."""

    status = 422
    code = "invalid_request"
    title = "Invalid request"
    extra_schema = {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        }
    }


class PayloadTooLarge(CortexError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"
    extra_schema = {"limit_bytes": {"type": "integer"}}


class InvalidPath(CortexError):
    """A path with control characters (``%00``, ``%0A``), which no id may hold."""

    code = "invalid_path"
    title = "Invalid path"


class MalformedBody(CortexError):
    """A body that cannot be read as JSON at all (not UTF-8, cut short): nothing to validate."""

    code = "malformed_body"
    title = "Malformed body"


class RouteNotFound(NotFound):
    code = "route_not_found"


class MethodNotAllowed(CortexError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"
    extra_schema = {"allowed_methods": {"type": "array", "items": {"type": "string"}}}


class HttpError(CortexError):
    """Any other HTTP error Starlette raises; its status is the one it was raised with."""

    code = "http_error"
    title = "HTTP error"

    def __init__(self, status: int, detail: str, *, remediation: str) -> None:
        super().__init__(detail, remediation=remediation)
        self.status = status  # type: ignore[misc]  # the one code whose status varies


class InternalError(CortexError):
    """A bug: the server failed to handle the request."""

    status = 500
    code = "internal_error"
    title = "Internal error"


class NotReady(CortexError):
    status = 503
    code = "not_ready"
    title = "Not ready"
    extra_schema = {"checks": {"type": "object", "additionalProperties": {"type": "string"}}}


class InternalSignatureInvalid(CortexError):
    """A service refuses a call the gateway did not sign (or signed with another secret)."""

    status = 401
    code = "internal_signature_invalid"
    title = "Internal signature invalid"


PROBLEM_JSON = "application/problem+json"

EVERY_ROUTE: tuple[type[CortexError], ...] = (
    InvalidPath,
    MalformedBody,
    PayloadTooLarge,
    InvalidRequest,
    InvalidValue,
    UpstreamUnavailable,
)
"""What any route may answer, whatever it does: the kit's guards, validation, what the database
cannot store, and outages."""


def problem_responses(*errors: type[CortexError]) -> dict[int | str, dict[str, Any]]:
    """FastAPI's ``responses=`` for a route that raises ``errors`` (and ``EVERY_ROUTE``): one
    ``application/problem+json`` answer per status, listing each class's code."""
    by_status: dict[int, list[type[CortexError]]] = {}
    for error in dict.fromkeys((*errors, *EVERY_ROUTE)):
        by_status.setdefault(error.status, []).append(error)
    return {status: _response(group) for status, group in sorted(by_status.items())}


def _response(errors: Iterable[type[CortexError]]) -> dict[str, Any]:
    group = list(errors)
    schemas = [error.schema() for error in group]
    return {
        "description": "; ".join(f"`{error.code}`: {error.title}" for error in group),
        "content": {
            PROBLEM_JSON: {"schema": schemas[0] if len(schemas) == 1 else {"oneOf": schemas}}
        },
    }
