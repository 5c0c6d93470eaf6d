"""Which wizard answer wrote a policy value: issues of the generated policy point at it."""

from __future__ import annotations

import pytest

from policy_engine.domain.document.loader import Path, format_path, parse_path
from policy_engine.domain.document.wizard import json_pointer, step_field


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("spec", "models", "allow", 2), ("models", ("allow", 2))),
        (("spec", "autonomy", "actions", "payments.*"), ("autonomy", ("actions", "payments.*"))),
        (("spec", "pii", "entities", "CREDIT_CARD"), ("data", ("pii", "CREDIT_CARD"))),
        (("spec", "pii", "default"), ("data", ("pii_default",))),
        (("spec", "budgets", "agent", "daily", "usd"), ("budgets", ("agent", "daily_usd"))),
        (("spec", "rules", 1, "match", "actions", 0), ("approvals", ("require_approval_for", 1))),
        (("spec", "rules", 0, "approval", "roles", 1), ("approvals", ("approver_roles", 1))),
        (("spec", "deployments", "approval", "quorum"), ("approvals", ("quorum",))),
        (("spec", "deployments", "max_agents_per_batch"), ("approvals", ("max_agents_per_batch",))),
        (("metadata", "name"), ("profile", ("name",))),
        (("spec", "data", "destinations"), ("data", ())),
        (("spec", "telemetry"), None),
    ],
)
def test_a_policy_path_maps_to_the_answer_that_wrote_it(
    path: Path, expected: tuple[str, Path] | None
) -> None:
    assert step_field(parse_path(format_path(path))) == expected


def test_json_pointer_escapes_per_rfc_6901() -> None:
    assert json_pointer(("actions", "a/b~c", 0)) == "/actions/a~1b~0c/0"
    assert json_pointer(()) == ""


@pytest.mark.parametrize(
    "path", [(), ("spec",), ("spec", "rules", 3, "id"), ("a", 'x"y[0]', "payments.*", 7)]
)
def test_parse_path_reads_what_format_path_wrote(path: Path) -> None:
    assert parse_path(format_path(path)) == path
