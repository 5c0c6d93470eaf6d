"""JSON in and out of ``POST /v1/authorize``, without FastAPI's generic body handling.

The request is validated by the same pydantic model in one step from the raw bytes (pydantic's
own JSON parser), and the answer is rendered straight to bytes in ``AuthorizeResponse``'s
shape; FastAPI's path (``json.loads``, then validation, then validating the response model
again, then ``json.dumps``) costs more CPU than the decision. Errors are the same
``RequestValidationError`` FastAPI raises, so the kit renders the same problem+json 422.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic_core
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from policy_engine.evaluation.schemas import AuthorizeRequest
from policy_engine.evaluation.service import Authorization

M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/…+json``, as FastAPI accepts a JSON body."""
    if not content_type:
        return False
    main, _, sub = content_type.partition(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)


def parse_json_body(model: type[M], body: bytes, content_type: str | None) -> M:
    """``body`` as ``model``; every problem as a ``RequestValidationError`` located in ``body``."""
    if not body:
        raise _invalid(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if not _is_json(content_type):
        raise _invalid(
            [
                {
                    "type": "content_type",
                    "loc": ("body",),
                    "msg": "Send the body as JSON, with Content-Type: application/json",
                    "input": content_type,
                }
            ]
        )
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise _invalid([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def render_authorization(answer: Authorization) -> bytes:
    """``AuthorizeResponse`` as JSON, field for field (checked against the model in tests)."""
    r = answer.result
    return pydantic_core.to_json(
        {
            "decision_id": answer.decision_id,
            "decision": r.decision,
            "risk_score": float(r.risk_score),
            "reasons": [reason.to_dict() for reason in r.reasons],
            "approval": (
                {**r.approval.to_dict(), **answer.approval.to_dict()}
                if r.approval and answer.approval
                else None
            ),
            "masked_payload": answer.masked_payload,
            "masked_entities": list(r.masked_entities),
            "budget_alerts": [alert.to_dict() for alert in r.budget_alerts],
            "risk_factors": {k: float(v) for k, v in r.risk_factors.items()},
            "policy_version": answer.policy_version,
            "evaluated_us": round(answer.evaluated_us, 1),
        },
        inf_nan_mode="null",
    )


def _inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema with its ``$defs`` inlined (an OpenAPI request body cannot hold them)."""
    definitions: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return resolve({**definitions[ref.removeprefix("#/$defs/")], **rest})
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


REQUEST_SCHEMA = _inline_definitions(AuthorizeRequest.model_json_schema())
"""The request body's schema, for the OpenAPI document."""
