"""FastAPI dependencies of approvals: who may read, create, decide, configure; query values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query

from gateway.auth.deps import require
from gateway.domain.approvals import MAX_WAIT_S
from gateway.domain.keys import DECIDING_ROLES, READ_ROLES, Principal, Role

Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
"""Every role of the agency reads its requests (a requester its own among them)."""
Requester = Annotated[Principal, Depends(require(Role.DEPLOYER, Role.AGENT))]
Decider = Annotated[Principal, Depends(require(*DECIDING_ROLES))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]

Agency = Annotated[str | None, Query(description="Required only for org-wide keys.")]
StatusWord = Literal["pending", "granted", "rejected", "expired", "superseded"]
KindWord = Literal["deployment", "decision", "action"]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list's query, validated here and relayed as sent."""

    status: StatusWord | None
    subject_kind: KindWord | None
    subject_id: str | None
    mine: Literal["decidable"] | None
    limit: int
    cursor: str | None


def _list_query(
    status: StatusWord | None = None,
    subject_kind: KindWord | None = None,
    subject_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    mine: Annotated[
        Literal["decidable"] | None,
        Query(description="`decidable`: the pending requests this key could approve now."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=600, description="`next_cursor` of the previous page.")
    ] = None,
) -> ListQuery:
    return ListQuery(status, subject_kind, subject_id, mine, limit, cursor)


ListFilters = Annotated[ListQuery, Depends(_list_query)]
Wait = Annotated[
    float,
    Query(
        ge=0,
        le=300,
        description=f"Long-poll: answer as soon as the request is terminal, or after this many "
        f"seconds (at most {MAX_WAIT_S:g}) with its state then.",
    ),
]
