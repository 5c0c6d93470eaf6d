"""Use cases of the first-run wizard: answer steps (each checked as it is saved), then publish.

A step is checked on its own, as part of the policy the answers so far describe, and against
the parent (org) policy; every error points at the step's own field (``loc`` and a JSON
pointer into the step's body), never at a position in the generated document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from policy_engine.domain.document.inheritance import check_overlay, merge
from policy_engine.domain.document.loader import (
    Issue,
    Path,
    PolicyInvalid,
    parse_path,
    parse_policy,
)
from policy_engine.domain.document.parse_limits import DEFAULT_LIMITS, LimitExceeded, ParseLimits
from policy_engine.domain.document.schema import PolicyDocument
from policy_engine.domain.document.wizard import (
    STEP_ORDER,
    STEPS,
    build_document,
    json_pointer,
    step_field,
)
from policy_engine.errors import PolicyError, WizardIncomplete, WizardStepNotFound
from policy_engine.policies import service as policies
from policy_engine.policies.parsing import limit_error
from policy_engine.policies.repository import PolicyVersion
from policy_engine.policies.service import Target
from policy_engine.wizard import repository

SCHEMA_HINT = "GET the wizard for each step's schema."


class WizardStepInvalid(PolicyError):
    code = "wizard_step_invalid"
    title = "Invalid wizard step"


class WizardStepLoosensParent(PolicyError):
    code = "wizard_step_loosens_parent"
    title = "Wizard step loosens the parent policy"


def _error(step: str, loc: Path, code: str, message: str, remediation: str) -> dict[str, Any]:
    return {
        "step": step,
        "loc": list(loc),
        "pointer": json_pointer(loc),
        "code": code,
        "message": message,
        "remediation": remediation,
    }


def _issue_errors(issues: Iterable[Issue], steps: Sequence[str]) -> list[dict[str, Any]]:
    """The issues that belong to ``steps`` (or to no step), as errors at the steps' fields."""
    errors = []
    for issue in issues:
        step, loc = step_field(parse_path(issue.path)) or (steps[0], ())
        if step in steps:
            errors.append(_error(step, loc, issue.code, issue.message, issue.remediation))
    return errors


def _refused(error: type[PolicyError], summary: str, errors: list[dict[str, Any]]) -> PolicyError:
    first = errors[0]
    where = f"{first['step']} {first['pointer'] or '(the whole step)'}"
    return error(
        f"{summary}: {first['message']} (at {where})",
        remediation=first["remediation"] or "Fix every field listed in `errors`.",
        extra={"errors": errors},
    )


def _parsed(answers: dict[str, Any]) -> dict[str, Any]:
    return {name: STEPS[name].model_validate(value) for name, value in answers.items()}


@dataclass(frozen=True, slots=True)
class StepState:
    name: str
    title: str
    completed: bool
    answers: dict[str, Any] | None
    """The saved answers (None until the step is answered)."""
    schema: dict[str, Any]
    """The step's JSON Schema."""


@dataclass(frozen=True, slots=True)
class WizardState:
    """Every step with its schema, answers and completion, the next step, a policy preview."""

    agency: str
    steps: list[StepState]
    next_step: str | None
    complete: bool
    preview: dict[str, Any]
    """The policy document the answers so far describe."""
    published_version: int | None


async def state(session: AsyncSession, agency: str) -> WizardState:
    row = await repository.get(session, agency)
    answers = row.answers if row else {}
    completed = list(row.completed_steps) if row else []
    return WizardState(
        agency=agency,
        steps=[
            StepState(
                name=name,
                title=(STEPS[name].__doc__ or "").strip(),
                completed=name in completed,
                answers=answers.get(name),
                schema=STEPS[name].model_json_schema(),
            )
            for name in STEP_ORDER
        ],
        next_step=next((n for n in STEP_ORDER if n not in completed), None),
        complete=all(n in completed for n in STEP_ORDER),
        preview=build_document(agency, _parsed(answers)),
        published_version=row.published_version if row else None,
    )


def _unknown_step(step: str) -> WizardStepNotFound:
    return WizardStepNotFound(
        f"No wizard step {step!r}.", remediation=f"Steps are: {', '.join(STEP_ORDER)}."
    )


def _validated_step(step: str, body: Any) -> dict[str, Any]:
    try:
        answers: dict[str, Any] = STEPS[step].model_validate(body).model_dump(mode="json")
    except ValidationError as exc:
        errors = [
            _error(step, tuple(e["loc"]), e["type"], e["msg"], f"Fix this answer; {SCHEMA_HINT}")
            for e in exc.errors()
        ]
        summary = f"The answers of step {step!r} are not valid"
        raise _refused(WizardStepInvalid, summary, errors) from None
    return answers


async def answer(
    session: AsyncSession,
    agency: str,
    step: str,
    body: Any,
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> WizardState:
    """Save one step's answers once they are valid and loosen nothing the parent sets."""
    if step not in STEPS:
        raise _unknown_step(step)
    row = await repository.get(session, agency)
    answers = {**(row.answers if row else {}), step: _validated_step(step, body)}
    await _check_answers(session, agency, answers, [step], limits)
    saved = row.completed_steps if row else []
    completed = [n for n in STEP_ORDER if n in {*saved, step}]
    published = row.published_version if row else None
    await repository.save(session, agency, answers, completed, published)
    return await state(session, agency)


async def _check_answers(
    session: AsyncSession,
    agency: str,
    answers: dict[str, Any],
    steps: Sequence[str],
    limits: ParseLimits,
) -> None:
    """The answers must make a valid policy that loosens nothing of the parent's, as far as
    ``steps`` are concerned (problems of other steps are reported when those are saved)."""
    document = await _document(agency, answers, steps, limits)
    if document is None:
        return
    parents = await policies.layers_of(session, Target("agency", agency).parents())
    issues = check_overlay(merge(parents) if parents else None, document)
    if errors := _issue_errors(issues, steps):
        summary = f"Step {errors[0]['step']!r} would loosen the parent policy"
        raise _refused(WizardStepLoosensParent, summary, errors)


async def _document(
    agency: str, answers: dict[str, Any], steps: Sequence[str], limits: ParseLimits
) -> PolicyDocument | None:
    text = json.dumps(build_document(agency, _parsed(answers)))
    try:
        return await asyncio.to_thread(parse_policy, text, content_type="json", limits=limits)
    except LimitExceeded as exc:
        raise limit_error(exc, "policy the answers describe") from None
    except PolicyInvalid as exc:
        if errors := _issue_errors(exc.issues, steps):
            summary = f"Step {errors[0]['step']!r} would make an invalid policy"
            raise _refused(WizardStepInvalid, summary, errors) from None
        return None


async def publish(
    session: AsyncSession,
    outbox: Table,
    agency: str,
    *,
    author: str,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> tuple[PolicyVersion, bool]:
    """Publish the policy the six steps describe: (version, created). Unchanged answers make
    no new version, as an unchanged policy PUT does not."""
    row = await repository.get(session, agency)
    completed = set(row.completed_steps) if row else set()
    missing = [n for n in STEP_ORDER if n not in completed]
    if row is None or missing:
        raise WizardIncomplete(
            f"The wizard is not finished: {', '.join(missing)} still to answer.",
            remediation="PUT the answers of each missing step, then publish again.",
            extra={"missing_steps": missing},
        )
    # The parent may have been tightened since a step was saved: say which answer to change.
    await _check_answers(session, agency, row.answers, STEP_ORDER, limits)
    document = build_document(agency, _parsed(row.answers))
    version, created = await policies.publish(
        session,
        outbox,
        Target("agency", agency),
        json.dumps(document, indent=2),
        "json",
        author=author,
        message="published by the first-run wizard",
        limits=limits,
    )
    await repository.save(session, agency, row.answers, list(completed), version.version)
    return version, created
