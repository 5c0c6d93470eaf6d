"""Answers of the first-run wizard (documented in docs/policies.md "First-run wizard")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from policy_engine.wizard.service import WizardState


class WizardStep(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)
    name: str
    title: str
    completed: bool
    answers: dict[str, Any] | None = Field(description="The saved answers (null until saved).")
    step_schema: dict[str, Any] = Field(
        alias="schema", description="The JSON Schema of the step's answers."
    )


class WizardStateOut(BaseModel):
    """Every step with its schema, answers and completion, the next step, a policy preview."""

    model_config = ConfigDict(from_attributes=True)
    agency: str
    steps: list[WizardStep]
    next_step: str | None = Field(description="The first step not answered yet.")
    complete: bool
    preview: dict[str, Any] = Field(description="The policy document the answers describe.")
    published_version: int | None

    @classmethod
    def of(cls, state: WizardState) -> WizardStateOut:
        return cls.model_validate(state, from_attributes=True)
