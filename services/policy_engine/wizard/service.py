"""Use cases of the first-run wizard: answer steps (each validated), then publish."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.errors import Conflict, CortexError, NotFound
from policy_engine.domain.loader import PolicyInvalid, parse_policy
from policy_engine.domain.wizard import STEP_ORDER, STEPS, build_document, step_of
from policy_engine.errors import issues_json
from policy_engine.policies import service as policies
from policy_engine.policies.service import Target
from policy_engine.wizard import repository


def _parsed(answers: dict[str, Any]) -> dict[str, Any]:
    return {name: STEPS[name].model_validate(value) for name, value in answers.items()}


async def state(session: AsyncSession, agency: str) -> dict[str, Any]:
    row = await repository.get(session, agency) or {
        "answers": {},
        "completed_steps": [],
        "published_version": None,
    }
    completed = list(row["completed_steps"])
    return {
        "agency": agency,
        "steps": [
            {
                "name": name,
                "title": (STEPS[name].__doc__ or "").strip(),
                "completed": name in completed,
                "answers": row["answers"].get(name),
                "schema": STEPS[name].model_json_schema(),
            }
            for name in STEP_ORDER
        ],
        "next_step": next((n for n in STEP_ORDER if n not in completed), None),
        "complete": all(n in completed for n in STEP_ORDER),
        "preview": build_document(agency, _parsed(row["answers"])),
        "published_version": row["published_version"],
    }


def _unknown_step(step: str) -> NotFound:
    return NotFound(
        f"No wizard step {step!r}.",
        remediation=f"Steps are: {', '.join(STEP_ORDER)}.",
        code="wizard_step_not_found",
    )


async def answer(session: AsyncSession, agency: str, step: str, body: Any) -> dict[str, Any]:
    if step not in STEPS:
        raise _unknown_step(step)
    try:
        parsed = STEPS[step].model_validate(body)
    except ValidationError as exc:
        raise CortexError(
            f"The answers of step {step!r} are not valid.",
            remediation="Fix the fields listed in `errors`; GET the wizard for each step's schema.",
            code="wizard_step_invalid",
            status=422,
            extra={
                "errors": [
                    {"loc": list(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
                ]
            },
        ) from None
    row = await repository.get(session, agency) or {"answers": {}, "completed_steps": []}
    answers = {**row["answers"], step: parsed.model_dump(mode="json")}
    _check_document(agency, answers, step)
    completed = [n for n in STEP_ORDER if n in {*row["completed_steps"], step}]
    await repository.save(session, agency, answers, completed, row.get("published_version"))
    return await state(session, agency)


def _check_document(agency: str, answers: dict[str, Any], step: str) -> None:
    """The step's answers must make a valid policy together with the earlier steps."""
    document = build_document(agency, _parsed(answers))
    try:
        parse_policy(json.dumps(document), content_type="json")
    except PolicyInvalid as exc:
        mine = [i for i in exc.issues if step_of(i.path) in (step, None)]
        if mine:
            raise CortexError(
                f"Step {step!r} would make an invalid policy: {mine[0].message}",
                remediation=mine[0].remediation or "Fix the listed issues.",
                code="wizard_step_invalid",
                status=422,
                extra={"issues": issues_json(mine)},
            ) from None


async def publish(
    session: AsyncSession, outbox: Table, agency: str, *, author: str
) -> dict[str, Any]:
    row = await repository.get(session, agency)
    completed = set(row["completed_steps"]) if row else set()
    missing = [n for n in STEP_ORDER if n not in completed]
    if row is None or missing:
        raise Conflict(
            f"The wizard is not finished: {', '.join(missing)} still to answer.",
            remediation="PUT the answers of each missing step, then publish again.",
            code="wizard_incomplete",
            extra={"missing_steps": missing},
        )
    document = build_document(agency, _parsed(row["answers"]))
    version, _ = await policies.publish(
        session,
        outbox,
        Target("agency", agency),
        json.dumps(document, indent=2),
        "json",
        author=author,
        message="published by the first-run wizard",
    )
    await repository.save(session, agency, row["answers"], list(completed), version["version"])
    return version
