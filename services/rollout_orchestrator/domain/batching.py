"""Deterministic batches: the same plan and the same fleet (in any order) give the same batches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rollout_orchestrator.domain.plan import DeploymentPlan, resolve_size
from rollout_orchestrator.domain.selector import matches


@dataclass(frozen=True, slots=True)
class FleetAgent:
    """What batching needs of an agent: its id and labels."""

    id: str
    labels: Mapping[str, str] = field(default_factory=dict)


class UnknownTargets(ValueError):
    """``targets.ids`` names agents the fleet does not have."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"{len(missing)} target(s) not in the fleet: {', '.join(missing[:10])}")
        self.missing = missing


def order_key(seed: str, agent_id: str) -> tuple[bytes, str]:
    """Where an agent goes in the order: a stable hash of the plan's seed and its id."""
    digest = hashlib.sha256(f"{seed}\x1f{agent_id}".encode("utf-8", "surrogatepass")).digest()
    return digest, agent_id


def targets_of(plan: DeploymentPlan, fleet: Iterable[FleetAgent]) -> list[str]:
    """The target ids, each once, in the plan's order (independent of the fleet's order)."""
    by_id: dict[str, FleetAgent] = {}
    for agent in fleet:
        if agent.id in by_id:
            raise ValueError(f"the fleet lists agent {agent.id!r} twice")
        by_id[agent.id] = agent
    if plan.targets.ids is not None:
        missing = sorted(set(plan.targets.ids) - by_id.keys())
        if missing:
            raise UnknownTargets(missing)
        chosen = list(plan.targets.ids)
    else:
        selector = plan.targets.selector or {}
        chosen = [a.id for a in by_id.values() if matches(selector, a.labels)]
    seed = plan.order_seed
    return sorted(chosen, key=lambda agent_id: order_key(seed, agent_id))


def plan_batches(plan: DeploymentPlan, fleet: Iterable[FleetAgent]) -> list[list[str]]:
    """The batches of agent ids, in rollout order.

    The targets are ordered by a stable hash of the plan's seed and each id. The explicit
    ``batches`` come first, each a count or a percentage of all targets (rounded up), capped at
    ``max_batch_size``; what is left after them goes in batches of ``max_batch_size`` (one
    batch without it). Every target is in exactly one batch; no batch is empty or over the
    maximum. No targets: no batches."""
    order = targets_of(plan, fleet)
    total = len(order)
    cap = plan.strategy.max_batch_size or total or 1
    batches: list[list[str]] = []
    at = 0
    for size in plan.strategy.batches or ():
        if at >= total:
            break
        step = min(resolve_size(size, total), cap)
        batches.append(order[at : at + step])
        at += step
    while at < total:
        batches.append(order[at : at + cap])
        at += cap
    return batches
