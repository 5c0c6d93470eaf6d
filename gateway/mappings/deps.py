"""FastAPI dependencies of the mappings: who may read and write, and the document, parsed."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Query, Request

from gateway.auth.deps import require
from gateway.domain.keys import READ_ROLES, Principal, Role
from gateway.mappings.errors import InvalidMapping
from gateway.mappings.schemas import MappingDocument
from gateway.mappings.service import parse_document

Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
MappingAdmin = Annotated[Principal, Depends(require(Role.POLICY_ADMIN))]
"""Admins and policy-admins of the agency write its mapping (every role reads it)."""
Agency = Annotated[str | None, Query(description="Required only for org-wide keys.")]


async def _document(request: Request) -> MappingDocument:
    # The body is bounded by the kit's RequestGuard; a nesting too deep for the parser is
    # refused like any other unreadable body.
    try:
        raw = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:
        raise InvalidMapping(
            f"The body is not a JSON document: {str(exc)[:200]}.",
            remediation="Send the mapping as JSON (Content-Type: application/json); "
            "`cortex dora mappings set -f FILE` reads YAML or JSON and sends JSON.",
            extra={"field": "(body)"},
        ) from None
    return parse_document(raw)


Document = Annotated[MappingDocument, Depends(_document)]
"""The request body: a validated :class:`MappingDocument` (422 ``invalid_mapping``)."""
