"""Deployments at the gateway: role checks, agency scoping, relay to the rollout orchestrator
(docs/rollouts.md, the deployments API).

Bodies and answers are the orchestrator's. Every call carries, signed, the key's id as the
principal (the run's actor, the one who paused, resumed, aborted or rolled back) and the agency
the key acts on; ``Idempotency-Key`` is passed on, so a pipeline's retry creates one run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request, Response

from gateway.agents.deps import (
    Agency,
    Deployer,
    LongPoll,
    Reader,
    deployment_list_query,
    record_query,
)
from gateway.domain.approvals import long_poll_s
from gateway.domain.rollouts import DEPLOYMENT_COMMANDS
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.relay import ScopedRelay, segment

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])
# The orchestrator's own problems (invalid_plan, targets_busy, deployment_blocked,
# invalid_transition, ...) are relayed as they are; its OpenAPI lists them.
SCOPED = gateway_responses(*AGENCY_SCOPED)
ORCHESTRATOR = "rollout_orchestrator"
PLAN_BODY = {
    "requestBody": {
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        }
    }
}


_relay = ScopedRelay(ORCHESTRATOR)


@router.post("", status_code=202, openapi_extra=PLAN_BODY, responses=SCOPED)
async def create_deployment(request: Request, caller: Deployer, agency: Agency = None) -> Response:
    """A deployment plan (YAML or JSON) → 202 the run, `running` or `pending_approval`;
    `Idempotency-Key` makes a retry answer the same run."""
    return await _relay(
        request, caller, "/v1/deployments", agency, with_body=True, headers=("idempotency-key",)
    )


@router.get("", responses=SCOPED, dependencies=[Depends(deployment_list_query)])
async def list_deployments(request: Request, caller: Reader, agency: Agency = None) -> Response:
    """Newest first, `limit` per page; `after=<next_after>` for the next (older) one."""
    return await _relay(request, caller, "/v1/deployments", agency)


@router.get("/{deployment_id}", responses=SCOPED, dependencies=[Depends(record_query)])
async def get_deployment(
    deployment_id: str,
    request: Request,
    caller: Reader,
    agency: Agency = None,
    wait: LongPoll = 0,
) -> Response:
    """The whole record; with `version` and `?wait=N`, answered as soon as the record's
    version differs from it or after N s (≤ 30)."""
    held = long_poll_s(wait)
    return await _relay(
        request,
        caller,
        f"/v1/deployments/{segment(deployment_id)}",
        agency,
        params={"wait": f"{held:g}"} if held else {},
        extra_timeout_s=held,
    )


def _command(command: str) -> Callable[..., Awaitable[Response]]:
    async def control(
        deployment_id: str, request: Request, caller: Deployer, agency: Agency = None
    ) -> Response:
        return await _relay(
            request,
            caller,
            f"/v1/deployments/{segment(deployment_id)}/{command}",
            agency,
            with_body=True,
        )

    control.__name__ = f"{command}_deployment"
    control.__doc__ = f"`{{reason}}` → the record; {command} is recorded with the caller's key id."
    return control


for _name in DEPLOYMENT_COMMANDS:
    router.add_api_route(
        f"/{{deployment_id}}/{_name}", _command(_name), methods=["POST"], responses=SCOPED
    )
