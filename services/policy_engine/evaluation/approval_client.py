"""The approval workflow over HTTP, signed with the internal secret as the gateway signs its
calls: ``POST /v1/approvals/{id}/uses`` (``ApprovalUses``). Anything but a granted use or a
refusal with its code is ``ApprovalUnverifiable``: the engine then fails closed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from cortex_kit.internal_auth import InternalSigner
from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER
from policy_engine.evaluation.approvals import ApprovalUnverifiable, UseAnswer

ENGINE_PRINCIPAL = "service:policy-engine"
"""Who the engine is to the approval workflow (only it may record uses)."""
_REFUSALS = frozenset({403, 404, 409, 410})
_CODES = frozenset(
    {
        "approval_not_found",
        "approval_not_granted",
        "approval_superseded",
        "approval_expired",
        "approval_used",
        "approval_agent_mismatch",
        "approval_input_mismatch",
    }
)
"""The refusals of a use; any other answer (``approval_use_forbidden``: a misconfigured
secret or principal, 5xx, 401) cannot verify the approval."""


class HttpApprovalUses:
    def __init__(self, base_url: str, secret: SecretStr | str, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), auth=InternalSigner(secret), timeout=timeout_s
        )

    async def use(
        self, agency: str, approval_id: str, *, input_hash: str, agent_id: str, decision_id: str
    ) -> UseAnswer:
        try:
            answer = await self._client.post(
                f"/v1/approvals/{quote(approval_id, safe='')}/uses",
                json={"input_hash": input_hash, "agent_id": agent_id, "decision_id": decision_id},
                headers={AGENCY_HEADER: agency, PRINCIPAL_HEADER: ENGINE_PRINCIPAL},
            )
            body: Any = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ApprovalUnverifiable(str(exc) or type(exc).__name__) from exc
        if not isinstance(body, dict):
            raise ApprovalUnverifiable(f"unexpected answer {answer.status_code}")
        if answer.status_code == 200:
            approvers = body.get("approvers")
            if not isinstance(approvers, list):
                raise ApprovalUnverifiable("a use answered without its approvers")
            return UseAnswer(granted=True, approvers=tuple(str(a) for a in approvers))
        code = body.get("code")
        if answer.status_code in _REFUSALS and code in _CODES:
            return UseAnswer(
                granted=False,
                code=str(code),
                detail=str(body.get("detail", "")),
                remediation=str(body.get("remediation", "")),
                approval_status=_text_or_none(body.get("approval_status")),
                superseded_by=_text_or_none(body.get("superseded_by")),
            )
        raise ApprovalUnverifiable(f"answered {answer.status_code} {code or ''}".strip())

    async def close(self) -> None:
        await self._client.aclose()


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
