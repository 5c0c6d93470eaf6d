"""The policy engine's plan evaluation (``POST /v1/deployments/evaluate``), signed as the
gateway signs. Anything but an answer is ``PolicyUnavailable``: the plan is refused (fail
closed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError

from cortex_kit.web import AGENCY_HEADER, PRINCIPAL_HEADER
from rollout_orchestrator.errors import PolicyUnavailable

EVALUATE_PATH = "/v1/deployments/evaluate"


class ApprovalNeeded(BaseModel):
    roles: list[str]
    quorum: int
    expires_in_s: int
    rule_ids: list[str]


class Evaluation(BaseModel):
    """The parts of the evaluation the orchestrator keeps (the rest is ignored)."""

    verdict: Literal["pass", "fail", "needs_approval"]
    risk_score: float
    reasons: list[dict[str, Any]]
    approval: ApprovalNeeded | None = None
    policy_version: str
    evaluated_at: datetime | None = None

    def blocking_codes(self) -> list[str]:
        return [str(r.get("code")) for r in self.reasons if r.get("effect") == "deny"]


def _unavailable(why: str) -> PolicyUnavailable:
    return PolicyUnavailable(
        f"The policy engine could not judge the plan ({why}); it is refused (fail closed).",
        remediation="Retry shortly; if it persists, check the policy engine's health.",
    )


class PolicyClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def evaluate(self, agency: str, principal: str, body: dict[str, Any]) -> Evaluation:
        headers = {AGENCY_HEADER: agency, PRINCIPAL_HEADER: principal}
        try:
            response = await self._client.post(EVALUATE_PATH, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _unavailable("timeout") from exc
        except httpx.HTTPError as exc:
            raise _unavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise _unavailable(f"HTTP {response.status_code}")
        try:
            return Evaluation.model_validate_json(response.content)
        except ValidationError as exc:
            raise _unavailable("an answer that is not an evaluation") from exc

    async def close(self) -> None:
        await self._client.aclose()
