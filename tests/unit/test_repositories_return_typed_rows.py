"""No repository hands out a free-form dict: every public function of a ``repository`` module
returns typed rows (frozen dataclasses, named tuples, TypedDicts) or plain values, so that
``mypy --strict`` checks the callers through the repository (issue 9 item 5).

The return annotations are read with :func:`typing.get_type_hints`, so ``X | None``,
``list[...]`` and other nestings are looked into. A process is checked once its package is
listed in ``PACKAGES``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from types import ModuleType
from typing import Any, get_args, get_origin, get_type_hints

import pytest

PACKAGES = [
    "gateway",
    "policy_engine",
    "metrics_collector",
    "approval_workflow",
    "rollout_orchestrator",
]
"""The processes whose repositories must return typed rows (one line per process)."""

_MAPPINGS = (dict, Mapping, MutableMapping)
_LOOSE_VALUES = (Any, object)


def _repositories(package: str) -> Iterator[ModuleType]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if info.name.rsplit(".", 1)[-1] == "repository":
            yield importlib.import_module(info.name)


def _public_functions(module: ModuleType) -> Iterator[tuple[str, Callable[..., object]]]:
    for name, value in vars(module).items():
        if (
            not name.startswith("_")
            and inspect.isfunction(value)
            and value.__module__ == module.__name__  # defined here, not imported
        ):
            yield name, value


def free_form_dicts(hint: object) -> list[object]:
    """Every ``dict[str, Any]`` / ``dict[str, object]`` (or Mapping) found in ``hint``."""
    found: list[object] = []
    origin, args = get_origin(hint), get_args(hint)
    if origin in _MAPPINGS and len(args) == 2 and args[0] is str and args[1] in _LOOSE_VALUES:
        found.append(hint)
    if hint in _MAPPINGS:  # a bare dict / Mapping says nothing of its keys and values
        found.append(hint)
    for arg in args:
        found += free_form_dicts(arg)
    return found


REPOSITORIES = {module.__name__: module for p in PACKAGES for module in _repositories(p)}


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_has_repositories(package: str) -> None:
    assert any(name.startswith(f"{package}.") for name in REPOSITORIES), package


@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_no_public_repository_function_returns_a_free_form_dict(name: str) -> None:
    module = REPOSITORIES[name]
    functions = dict(_public_functions(module))
    assert functions, f"{name} defines no public function"
    offending = [
        f"{fn_name} -> {get_type_hints(fn)['return']}"
        for fn_name, fn in functions.items()
        if free_form_dicts(get_type_hints(fn).get("return"))
    ]
    assert not offending, (
        f"{name}: {'; '.join(offending)}: return a frozen dataclass or a TypedDict instead"
    )


@pytest.mark.parametrize(
    "hint",
    [
        dict[str, Any],
        dict[str, Any] | None,
        list[dict[str, Any]],
        dict[str, object],
        Mapping[str, Any],
        dict,
        list[dict[str, Any] | None],
    ],
)
def test_free_form_dicts_are_found_however_nested(hint: object) -> None:
    assert free_form_dicts(hint)


@pytest.mark.parametrize(
    "hint", [None, bool, int | None, list[str], dict[str, int], dict[tuple[str, str], list[int]]]
)
def test_typed_answers_are_not_free_form(hint: object) -> None:
    assert free_form_dicts(hint) == []
