"""The agent registry at the gateway: role checks, agency scoping, relay to the rollout
orchestrator (docs/rollouts.md "Agent registry", docs/agents.md).

Bodies and answers are the orchestrator's; every call carries, signed, the key's id as the
principal and the agency the key acts on.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from gateway.agents.deps import (
    Agency,
    AgentCaller,
    Deployer,
    LongPoll,
    Reader,
    agent_list_query,
    desired_query,
)
from gateway.domain.approvals import long_poll_s
from gateway.errors import AGENCY_SCOPED, gateway_responses
from gateway.relay import ScopedRelay, segment

router = APIRouter(prefix="/v1/agents", tags=["agents"])
# The orchestrator's own problems (agent_not_found, invalid_selector, ...) are relayed as they
# are; its OpenAPI lists them. These are the gateway's.
SCOPED = gateway_responses(*AGENCY_SCOPED)
ORCHESTRATOR = "rollout_orchestrator"


_relay = ScopedRelay(ORCHESTRATOR)


def _agent_path(agent_id: str, tail: str = "") -> str:
    return f"/v1/agents/{segment(agent_id)}{tail}"


@router.post("", status_code=201, responses=SCOPED)
async def register_agent(request: Request, caller: AgentCaller, agency: Agency = None) -> Response:
    """Register (201), or register again (200: labels, runtime, current revision replaced)."""
    return await _relay(request, caller, "/v1/agents", agency, with_body=True)


@router.get("", responses=SCOPED, dependencies=[Depends(agent_list_query)])
async def list_agents(request: Request, caller: Reader, agency: Agency = None) -> Response:
    """The agency's agents by id; `selector=key=value[,…]`, `after` and `limit` page them."""
    return await _relay(request, caller, "/v1/agents", agency)


@router.get("/{agent_id}", responses=SCOPED)
async def get_agent(
    agent_id: str, request: Request, caller: Reader, agency: Agency = None
) -> Response:
    return await _relay(request, caller, _agent_path(agent_id), agency)


@router.post("/{agent_id}/heartbeat", responses=SCOPED)
async def heartbeat(
    agent_id: str, request: Request, caller: AgentCaller, agency: Agency = None
) -> Response:
    """The revision the agent runs, whether it is healthy, health details and metrics."""
    return await _relay(
        request, caller, _agent_path(agent_id, "/heartbeat"), agency, with_body=True
    )


@router.put("/{agent_id}/desired", responses=SCOPED)
async def set_desired(
    agent_id: str, request: Request, caller: Deployer, agency: Agency = None
) -> Response:
    """Pin the revision the agent should run (deployer, admin)."""
    return await _relay(request, caller, _agent_path(agent_id, "/desired"), agency, with_body=True)


@router.get("/{agent_id}/desired", responses=SCOPED, dependencies=[Depends(desired_query)])
async def get_desired(
    agent_id: str,
    request: Request,
    caller: AgentCaller,
    agency: Agency = None,
    wait: LongPoll = 0,
) -> Response:
    """The revision to run; with `known` and `?wait=N`, answered as soon as it differs from
    `known` or after N s (≤ 30)."""
    held = long_poll_s(wait)
    return await _relay(
        request,
        caller,
        _agent_path(agent_id, "/desired"),
        agency,
        params={"wait": f"{held:g}"} if held else {},
        extra_timeout_s=held,
    )
