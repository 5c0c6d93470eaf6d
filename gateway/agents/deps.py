"""FastAPI dependencies of the agent and deployment routes: who may call them, the long-poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from gateway.auth.deps import require
from gateway.domain.approvals import MAX_WAIT_S
from gateway.domain.keys import READ_ROLES, Principal
from gateway.domain.rollouts import AGENT_ROLES, DEPLOYING_ROLES

AgentCaller = Annotated[Principal, Depends(require(*AGENT_ROLES))]
"""Register, heartbeat, long-poll the desired revision: agent, deployer, admin."""
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
Deployer = Annotated[Principal, Depends(require(*DEPLOYING_ROLES))]
"""Pin a desired revision, create and control deployments: deployer, admin."""

Agency = Annotated[str | None, Query(description="Required only for org-wide keys.")]
LongPoll = Annotated[
    float,
    Query(
        ge=0,
        le=300,
        description=f"Long-poll: answer as soon as it changes, or after this many seconds "
        f"(held at most {MAX_WAIT_S:g}).",
    ),
]


def agent_list_query(
    selector: Annotated[
        str | None, Query(max_length=2000, description="`key=value[,key=value…]`.")
    ] = None,
    after: Annotated[str | None, Query(max_length=200, description="`next_after`.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> None:
    """The agent list's query, validated here and relayed as sent."""


def desired_query(
    known: Annotated[
        str | None, Query(max_length=200, description="The revision the agent runs.")
    ] = None,
) -> None:
    """``known`` of the desired revision's long-poll, relayed as sent."""


def deployment_list_query(
    status: Annotated[str | None, Query(max_length=40)] = None,
    service: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=200, description="`next_after`.")] = None,
) -> None:
    """The deployment list's query, validated here and relayed as sent."""


def record_query(
    version: Annotated[
        int | None, Query(ge=0, description="With `wait`: answer once the version differs.")
    ] = None,
) -> None:
    """``version`` of the deployment record's long-poll, relayed as sent."""
