"""What changed between two policy versions (``cortex policy diff``)."""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

from policy_engine.domain.document.schema import PolicyDocument

ChangeKind = Literal["added", "removed", "changed"]
_MISSING: Any = object()


class Change(NamedTuple):
    """One difference; ``path`` is like ``spec.rules[id=no-prod-drop].effect``."""

    path: str
    old: Any
    new: Any
    kind: ChangeKind

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def diff_policies(old: PolicyDocument, new: PolicyDocument) -> list[Change]:
    """Every added, removed and changed value, in document order; rules are matched by id."""
    changes: list[Change] = []
    _diff("", _tree(old), _tree(new), changes)
    return changes


def _tree(document: PolicyDocument) -> Any:
    return document.model_dump(mode="json", exclude_none=True)


def _child(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _by_id(items: list[Any]) -> dict[str, Any] | None:
    """Rules (lists of objects with unique ids) are compared by id, not by position."""
    if not all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items):
        return None
    keyed = {item["id"]: item for item in items}
    return keyed if len(keyed) == len(items) else None


def _diff(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if old == new:
        return
    if old is _MISSING:
        out.append(Change(path, None, new, "added"))
    elif new is _MISSING:
        out.append(Change(path, old, None, "removed"))
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff(_child(path, key), old.get(key, _MISSING), new.get(key, _MISSING), out)
    elif isinstance(old, list) and isinstance(new, list) and _lists_of_objects(old, new):
        _diff_lists(path, old, new, out)
    else:
        out.append(Change(path, old, new, "changed"))


def _lists_of_objects(old: list[Any], new: list[Any]) -> bool:
    return all(isinstance(item, dict) for item in [*old, *new])


def _diff_lists(path: str, old: list[Any], new: list[Any], out: list[Change]) -> None:
    old_ids, new_ids = _by_id(old), _by_id(new)
    if old_ids is not None and new_ids is not None:
        for key in [*old_ids, *(k for k in new_ids if k not in old_ids)]:
            item_path = f"{path}[id={key}]"
            _diff(item_path, old_ids.get(key, _MISSING), new_ids.get(key, _MISSING), out)
        return
    for index in range(max(len(old), len(new))):
        _diff(
            f"{path}[{index}]",
            old[index] if index < len(old) else _MISSING,
            new[index] if index < len(new) else _MISSING,
            out,
        )
