"""The notification rows the repository returns match their tables (the shared check of
tests/unit/test_row_types_match_tables.py, for this service's new tables)."""

from __future__ import annotations

from typing import Any, get_origin, get_type_hints

import pytest
from sqlalchemy import Table

from approval_workflow.models import notification_settings, notification_targets, notifications
from approval_workflow.notifications.repository import (
    ClaimedNotification,
    FailedRow,
    SettingsRow,
    TargetRow,
)
from tests.unit.test_row_types_match_tables import _split_optional

ROWS: list[tuple[type[Any], Table, set[str]]] = [
    (SettingsRow, notification_settings, set()),
    (TargetRow, notification_targets, set()),
    (
        ClaimedNotification,
        notifications,
        {"status", "next_attempt_at", "last_status", "last_error", "finished_at"},
    ),
    (FailedRow, notifications, {"agency", "body", "status", "next_attempt_at", "created_at"}),
]


@pytest.mark.parametrize(("row", "table", "left_out"), ROWS, ids=[r[0].__name__ for r in ROWS])
def test_row_fields_are_the_table_columns(row: type[Any], table: Table, left_out: set[str]) -> None:
    hints = get_type_hints(row)
    assert set(hints) == {c.name for c in table.columns} - left_out
    for name, hint in hints.items():
        column = table.columns[name]
        base, optional = _split_optional(hint)
        assert optional == column.nullable, f"{row.__name__}.{name}"
        assert issubclass(get_origin(base) or base, column.type.python_type), name
    assert row.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" in vars(row)
