"""The typed rows the repositories return match their tables (``models.py``): each field is a
column, of the column's Python type, optional exactly when the column is nullable."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from sqlalchemy import Table

from gateway.auth.repository import ActiveKey, KeyRow
from gateway.models import api_keys, webhook_secrets
from gateway.webhooks.repository import SecretRow
from metrics_collector.domain.facts.mapping import DeliveryFact
from metrics_collector.dora.repository import SETTINGS_COLUMNS, SettingsRow
from metrics_collector.events.repository import MergedFactRow, _MergedValues
from metrics_collector.models import delivery_events, dora_settings

ROWS: list[tuple[type[Any], Table, set[str]]] = [
    # (row type, its table, the columns it leaves out)
    (KeyRow, api_keys, {"secret_hash"}),
    (ActiveKey, api_keys, {"name", "created_by", "created_at", "revoked_at"}),
    (SecretRow, webhook_secrets, {"agency", "provider", "ciphertext", "plaintext"}),
    (MergedFactRow, delivery_events, set()),
    (SettingsRow, dora_settings, {"changed_xid"}),
    (_MergedValues, delivery_events, {"received_at", "updated_at", "changed_xid"}),
]


def _split_optional(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in get_args(hint) if a is not type(None)]
        assert len(rest) == 1, hint
        return rest[0], len(rest) < len(get_args(hint))
    return hint, False


@pytest.mark.parametrize(("row", "table", "left_out"), ROWS, ids=[r[0].__name__ for r in ROWS])
def test_row_fields_are_the_table_columns(row: type[Any], table: Table, left_out: set[str]) -> None:
    hints = get_type_hints(row)
    assert set(hints) == {c.name for c in table.columns} - left_out
    for name, hint in hints.items():
        column = table.columns[name]
        base, optional = _split_optional(hint)
        assert optional == column.nullable, f"{row.__name__}.{name}: nullable is {column.nullable}"
        python_type = column.type.python_type
        assert issubclass(get_origin(base) or base, python_type), f"{row.__name__}.{name}"


@pytest.mark.parametrize("row", [r for r, _, _ in ROWS if dataclasses.is_dataclass(r)])
def test_dataclass_rows_are_frozen_and_slotted(row: type[Any]) -> None:
    params = row.__dataclass_params__
    assert params.frozen, row
    assert "__slots__" in vars(row), row


def test_a_merged_row_stores_every_field_of_a_fact() -> None:
    fields = {f.name for f in dataclasses.fields(DeliveryFact)}
    assert set(get_type_hints(_MergedValues)) == fields | {"versions"}


def test_settings_rows_read_the_settings_columns() -> None:
    assert [f.name for f in dataclasses.fields(SettingsRow)] == [c.name for c in SETTINGS_COLUMNS]
