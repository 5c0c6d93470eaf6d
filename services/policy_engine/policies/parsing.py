"""Policy texts and wizard bodies parsed within their limits, in a worker thread.

The limits make every parse linear in the text's size; the thread keeps even a legitimate
large policy's parse (pure-Python YAML, ~10 ms per KB) from holding the event loop while
other agencies authorize.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal

from policy_engine.domain.document.loader import (
    Issue,
    PolicyInvalid,
    SourceMap,
    parse_policy_located,
)
from policy_engine.domain.document.parse_limits import (
    LimitExceeded,
    LimitName,
    ParseLimits,
    load_json,
)
from policy_engine.domain.document.schema import PolicyDocument
from policy_engine.errors import PolicyError, PolicyInvalidError, issues_json

ContentType = Literal["yaml", "json"]
SETTING_PREFIX = "CORTEX_POLICY_ENGINE_POLICY_"


class PolicyLimitError(PolicyError):
    """A text passes one of the parse limits; the problem names the limit and its setting."""

    limit: ClassVar[LimitName]
    advice: ClassVar[str]

    def __init__(self, exc: LimitExceeded, what: str) -> None:
        setting = SETTING_PREFIX + self.limit.upper()
        remediation = f"{self.advice} (limit {exc.value}, setting {setting})."
        issue = Issue("", exc.line, exc.column, exc.message, remediation, self.code)
        super().__init__(
            f"The {what} was not parsed: {exc.message}.",
            remediation=remediation,
            extra={
                "limit": {"name": f"policy_{self.limit}", "value": exc.value, "setting": setting},
                "issues": issues_json([issue]),
            },
        )


class PolicyTooLarge(PolicyLimitError):
    status = 413
    code = "policy_too_large"
    title = "Policy too large"
    limit = "max_bytes"
    advice = "Send a smaller document; split large rule sets between agency and team layers"


class PolicyTooDeep(PolicyLimitError):
    code = "policy_too_deep"
    title = "Policy nested too deep"
    limit = "max_depth"
    advice = "Flatten the document; a policy needs only a few levels of nesting"


class PolicyTooManyAliases(PolicyLimitError):
    code = "policy_too_many_aliases"
    title = "Too many YAML aliases"
    limit = "max_aliases"
    advice = "Write the values out instead of referring to anchors (*name) so often"


class PolicyTooManyNodes(PolicyLimitError):
    code = "policy_too_many_nodes"
    title = "Policy expands too far"
    limit = "max_nodes"
    advice = "Use fewer values, or fewer aliases that copy large anchored blocks"


_ERRORS: dict[LimitName, type[PolicyLimitError]] = {
    error.limit: error
    for error in (PolicyTooLarge, PolicyTooDeep, PolicyTooManyAliases, PolicyTooManyNodes)
}


LIMIT_ERRORS: tuple[type[PolicyLimitError], ...] = tuple(_ERRORS.values())
"""What parsing a policy text or a JSON body may refuse (413 or 422, the limit named)."""


def limit_error(exc: LimitExceeded, what: str = "policy") -> PolicyLimitError:
    return _ERRORS[exc.limit](exc, what)


def _parse(
    text: str, content_type: ContentType, limits: ParseLimits
) -> tuple[PolicyDocument, SourceMap]:
    try:
        return parse_policy_located(text, content_type=content_type, limits=limits)
    except PolicyInvalid as exc:
        raise PolicyInvalidError(list(exc.issues)) from None
    except LimitExceeded as exc:
        raise limit_error(exc) from None


async def parse_text(
    text: str, content_type: ContentType, limits: ParseLimits
) -> tuple[PolicyDocument, SourceMap]:
    """The validated document and its source map; PolicyInvalidError or a PolicyLimitError."""
    return await asyncio.to_thread(_parse, text, content_type, limits)


class BodyInvalid(PolicyError):
    code = "invalid_body"
    title = "Invalid request body"


def _json_body(raw: bytes, limits: ParseLimits) -> Any:
    try:
        return load_json(raw, limits)
    except LimitExceeded as exc:
        raise limit_error(exc, "request body") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BodyInvalid(
            f"The body is not valid UTF-8 JSON: {exc}",
            remediation="Send a JSON object (Content-Type: application/json).",
        ) from None


async def parse_json_body(raw: bytes, limits: ParseLimits) -> Any:
    """A JSON request body within ``limits`` (413/422 problems otherwise), parsed off the loop."""
    return await asyncio.to_thread(_json_body, raw, limits)
