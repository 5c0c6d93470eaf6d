"""Shadow mode: evaluate a candidate policy on the inputs of recent decisions before publishing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.domain.decisions.compiler import compile_policy
from policy_engine.domain.decisions.decision import Decision
from policy_engine.domain.decisions.evaluator import evaluate
from policy_engine.domain.document.inheritance import Layer, check_overlay, merge
from policy_engine.domain.document.parse_limits import DEFAULT_LIMITS, ParseLimits
from policy_engine.errors import PolicyInvalidError, PolicyLoosensParent
from policy_engine.evaluation import repository
from policy_engine.evaluation.service import replay_input
from policy_engine.policies import service as policies
from policy_engine.policies.service import ContentType, Target


@dataclass(frozen=True, slots=True)
class SimulatedChange:
    """A recorded decision the candidate would decide otherwise, and why."""

    decision_id: str
    agent_id: str
    action_type: str
    at: datetime
    before: Decision
    after: Decision
    new_reasons: list[dict[str, Any]]
    """The candidate's blocking reasons the recorded decision did not have (``to_dict()``)."""
    cleared_reasons: list[str]
    """The codes of the recorded blocking reasons the candidate no longer gives."""


@dataclass(frozen=True, slots=True)
class Simulation:
    agency: str
    evaluated: int
    changed: int
    transitions: dict[str, int]
    """How many decisions went from each decision to each (``"allow->deny"``)."""
    changes: list[SimulatedChange]


async def simulate(
    session: AsyncSession,
    agency: str,
    text: str,
    content_type: ContentType,
    last: int,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> Simulation:
    """Which of the last ``last`` decisions of ``agency`` the candidate would change, and why."""
    document, source_map = await policies.validate_text(text, content_type, limits)
    meta = document.metadata
    if meta.layer == "org" or meta.agency != agency:
        raise PolicyInvalidError(
            [],
            detail=f"The candidate is a {meta.layer} policy of {meta.agency!r}; simulate an "
            f"agency or team policy of {agency!r}.",
        )
    target = Target(meta.layer, agency, meta.team)
    parents = await policies.layers_of(session, target.parents())
    if issues := check_overlay(merge(parents) if parents else None, document, source=source_map):
        raise PolicyLoosensParent(issues)
    candidate = compile_policy(merge([*parents, Layer(document, 0, meta.layer)]))
    changed: list[SimulatedChange] = []
    outcomes: Counter[str] = Counter()
    rows = await repository.recent(session, agency, last)
    for row in rows:
        inp, ctx = replay_input(agency, row.input)
        if (inp.team or None) != (meta.team or None):
            continue
        result = evaluate(candidate, inp, ctx)
        outcomes[f"{row.decision}->{result.decision}"] += 1
        if result.decision != row.decision:
            before = {
                r["code"] for r in row.reasons if r.get("effect") in ("deny", "require_approval")
            }
            changed.append(
                SimulatedChange(
                    decision_id=row.decision_id,
                    agent_id=row.agent_id,
                    action_type=row.action_type,
                    at=row.created_at,
                    before=row.decision,
                    after=result.decision,
                    new_reasons=[r.to_dict() for r in result.violations if r.code not in before],
                    cleared_reasons=sorted(before - {r.code for r in result.violations}),
                )
            )
    return Simulation(
        agency=agency,
        evaluated=sum(outcomes.values()),
        changed=len(changed),
        transitions=dict(outcomes),
        changes=changed,
    )
