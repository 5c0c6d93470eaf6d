"""HTTP I/O of the audit log (docs/api.md "Audit log")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.domain.audit import AuditRecord, Verdict


class AuditRow(BaseModel):
    seq: int
    at: datetime
    actor: str | None = Field(description="The API key id of the caller (null: a webhook).")
    role: str | None
    agency: str = Field(description="The agency acted on ('*': an org-wide key's own act).")
    action: str = Field(examples=["DELETE /v1/keys/{key_id}"])
    target: dict[str, Any] = Field(description="The path parameters of the request.")
    outcome: int = Field(description="The HTTP status of the answer.")
    request_id: str | None
    prev_hash: str = Field(description="Hex sha256 of the row before (zeros for the first).")
    hash: str = Field(description="Hex sha256 of this row's canonical form and prev_hash.")

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRow:
        entry = record.entry
        return cls(
            seq=record.seq,
            at=entry.at,
            actor=entry.actor,
            role=entry.role,
            agency=entry.agency,
            action=entry.action,
            target=dict(entry.target),
            outcome=entry.outcome,
            request_id=entry.request_id,
            prev_hash=record.prev_hash.hex(),
            hash=record.hash.hex(),
        )


class AuditPage(BaseModel):
    items: list[AuditRow]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class BrokenLinkOut(BaseModel):
    seq: int
    reason: Literal["altered", "deleted", "inserted"]


class ChainHeadOut(BaseModel):
    seq: int
    hash: str


class ChainVerdict(BaseModel):
    ok: bool
    rows: int
    first_broken: BrokenLinkOut | None
    head: ChainHeadOut = Field(
        description="The head the walk checked against; record it elsewhere to detect a "
        "rewrite of the whole chain."
    )

    @classmethod
    def of(cls, verdict: Verdict, head_seq: int, head_hash: bytes) -> ChainVerdict:
        broken = verdict.first_broken
        return cls(
            ok=verdict.ok,
            rows=verdict.rows,
            first_broken=BrokenLinkOut(seq=broken.seq, reason=broken.reason.value)
            if broken
            else None,
            head=ChainHeadOut(seq=head_seq, hash=head_hash.hex()),
        )
