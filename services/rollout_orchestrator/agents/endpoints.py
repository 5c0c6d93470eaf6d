"""The agent registry over HTTP (internal, behind the gateway). The caller's agency comes
from the headers the gateway signs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from cortex_kit.errors import AgencyRequired, problem_responses
from cortex_kit.runtime import DbSession, RuntimeDep
from cortex_kit.web import CallerAgency
from rollout_orchestrator.agents import service
from rollout_orchestrator.agents.deps import Selector
from rollout_orchestrator.agents.repository import Agent
from rollout_orchestrator.agents.schemas import (
    AgentId,
    AgentList,
    AgentOut,
    AgentRegister,
    DesiredIn,
    DesiredOut,
    Heartbeat,
)
from rollout_orchestrator.domain.plan import Revision
from rollout_orchestrator.errors import AgentNotFound, InvalidSelector
from rollout_orchestrator.state import RolloutState, State

router = APIRouter(prefix="/v1/agents", tags=["agents"])
PathId = Annotated[str, Path(min_length=1, max_length=200)]


def _out(agent: Agent, state: RolloutState) -> AgentOut:
    return AgentOut.of(agent, service.is_stale(agent, state.clock(), state.stale_after))


@router.post(
    "",
    status_code=201,
    responses={
        200: {"model": AgentOut, "description": "Registered before: updated."},
        **problem_responses(AgencyRequired),
    },
)
async def register_agent(
    body: AgentRegister,
    response: Response,
    session: DbSession,
    state: State,
    agency: CallerAgency,
) -> AgentOut:
    """A new agent (201); registering again updates it (200): labels, runtime, current
    revision. Its desired revision is its current one at first, and then stays."""
    registered = await service.register(
        session, agency, body.id, body.labels, body.runtime, body.current_revision, state.clock()
    )
    if not registered.created:
        response.status_code = 200
    return _out(registered.agent, state)


@router.get("", responses=problem_responses(AgencyRequired, InvalidSelector))
async def list_agents(
    session: DbSession,
    state: State,
    agency: CallerAgency,
    selector: Selector,
    after: Annotated[AgentId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AgentList:
    """The agency's agents by id, those whose labels match ``selector`` (all terms equal)."""
    page = await service.list_agents(session, agency, selector, after, limit)
    return AgentList(items=[_out(a, state) for a in page.items], next_after=page.next_after)


@router.get("/{agent_id}", responses=problem_responses(AgencyRequired, AgentNotFound))
async def get_agent(
    agent_id: PathId, session: DbSession, state: State, agency: CallerAgency
) -> AgentOut:
    return _out(await service.get(session, agency, agent_id), state)


@router.post("/{agent_id}/heartbeat", responses=problem_responses(AgencyRequired, AgentNotFound))
async def heartbeat(
    agent_id: PathId, body: Heartbeat, session: DbSession, state: State, agency: CallerAgency
) -> AgentOut:
    """The revision the agent runs and whether it is healthy (with details and metrics)."""
    agent = await service.heartbeat(
        session, agency, agent_id, body.applied_revision, body.healthy, body.health, state.clock()
    )
    return _out(agent, state)


@router.put("/{agent_id}/desired", responses=problem_responses(AgencyRequired, AgentNotFound))
async def set_desired(
    agent_id: PathId, body: DesiredIn, session: DbSession, agency: CallerAgency
) -> DesiredOut:
    """Pin the revision the agent should run (what a rollout will do batch by batch); its
    long-polls in this process are answered after the commit."""
    agent = await service.set_desired(session, agency, agent_id, body.revision)
    return DesiredOut(
        agent_id=agent.id, desired_revision=agent.desired_revision, known=None, changed=True
    )


@router.get("/{agent_id}/desired", responses=problem_responses(AgencyRequired, AgentNotFound))
async def get_desired(
    agent_id: PathId,
    rt: RuntimeDep,
    state: State,
    agency: CallerAgency,
    known: Annotated[Revision | None, Query(description="The revision the agent runs.")] = None,
    wait: Annotated[float, Query(ge=0, le=30)] = 0,
) -> DesiredOut:
    """The revision the agent should run. With ``known`` and ``wait=N``: answered at once when
    it differs from ``known``, else as soon as it changes or after N seconds (at most 30).
    No database connection is held while waiting."""
    agent = await service.read_desired(
        rt.db, state.waiters, agency, agent_id, known, min(wait, state.wait_max_s)
    )
    return DesiredOut(
        agent_id=agent.id,
        desired_revision=agent.desired_revision,
        known=known,
        changed=known is not None and agent.desired_revision != known,
    )
