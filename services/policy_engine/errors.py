"""The policy-engine's errors (rendered as problem+json by the kit)."""

from __future__ import annotations

from typing import Any

from cortex_kit.errors import AgencyForbidden, AgencyRequired, Conflict, CortexError, NotFound
from policy_engine.domain.document.loader import Issue


class PolicyError(CortexError):
    status = 422
    code = "policy_error"
    title = "Policy error"


def issues_json(issues: list[Issue]) -> list[dict[str, Any]]:
    return [
        {
            "code": i.code,
            "path": i.path,
            "line": i.line,
            "column": i.column,
            "message": i.message,
            "remediation": i.remediation,
        }
        for i in issues
    ]


class PolicyInvalidError(PolicyError):
    code = "policy_invalid"
    title = "Invalid policy"

    def __init__(self, issues: list[Issue], *, detail: str | None = None) -> None:
        first = issues[0] if issues else None
        where = f" (line {first.line}, column {first.column})" if first and first.line else ""
        super().__init__(
            detail or f"{len(issues)} problem(s); first: {first.message if first else '?'}{where}",
            remediation=(first.remediation if first and first.remediation else "")
            or "Fix every issue listed in `issues` (each has its line, column and remediation).",
            extra={"issues": issues_json(issues)},
        )


class PolicyLoosensParent(PolicyError):
    code = "policy_loosens_parent"
    title = "Overlay loosens a parent policy"

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(
            f"The policy would loosen its parent in {len(issues)} place(s); "
            f"first: {issues[0].message}",
            remediation="A child layer may only tighten: remove or tighten each listed value.",
            extra={"issues": issues_json(issues)},
        )


class PolicyCompileFailed(PolicyError):
    """The merged policy does not compile; nothing was published."""

    code = "policy_compile_failed"
    title = "Policy does not compile"


class PolicyNotFound(NotFound):
    code = "policy_not_found"


class DecisionNotFound(NotFound):
    code = "decision_not_found"


class ReservationNotFound(NotFound):
    """No open budget reservation for the decision whose usage is reported."""

    code = "reservation_not_found"


class WizardStepNotFound(NotFound):
    code = "wizard_step_not_found"


class WizardIncomplete(Conflict):
    code = "wizard_incomplete"
    title = "Wizard incomplete"
    extra_schema = {"missing_steps": {"type": "array", "items": {"type": "string"}}}


class UnsupportedMediaType(CortexError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class InvalidEncoding(CortexError):
    code = "invalid_encoding"
    title = "Invalid encoding"


AGENCY: tuple[type[CortexError], ...] = (AgencyRequired, AgencyForbidden)
"""What a route for one agency (``/v1/agencies/{agency}/...``) may answer."""

PUBLISHED: tuple[type[CortexError], ...] = (
    PolicyInvalidError,
    PolicyLoosensParent,
    PolicyCompileFailed,
)
"""What publishing a policy version may refuse (nothing is published then)."""
