"""Label selectors: ``team=payments,tier=canary``, equality only, every term must hold."""

from __future__ import annotations

import re
from collections.abc import Mapping

LABEL_KEY = r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE = r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$"
MAX_TERMS = 20
_KEY = re.compile(LABEL_KEY)
_VALUE = re.compile(LABEL_VALUE)


class SelectorError(ValueError):
    """A selector that is not ``key=value[,key=value…]`` with valid keys and values."""


def parse_selector(text: str) -> dict[str, str]:
    """``"team=payments,tier=canary"`` as ``{"team": "payments", "tier": "canary"}``.

    An empty string selects everything (``{}``). A key named twice with two values is an
    error (nothing could match); named twice with one value, once."""
    terms: dict[str, str] = {}
    if not text.strip():
        return terms
    parts = text.split(",")
    if len(parts) > MAX_TERMS:
        raise SelectorError(f"at most {MAX_TERMS} terms")
    for part in parts:
        key, sep, value = part.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not sep or value.startswith("="):
            raise SelectorError(f"term {part.strip()!r} is not key=value (equality only)")
        if not _KEY.fullmatch(key):
            raise SelectorError(f"label key {key!r} is not valid")
        if not _VALUE.fullmatch(value):
            raise SelectorError(f"label value {value!r} of {key!r} is not valid")
        if terms.get(key, value) != value:
            raise SelectorError(f"label {key!r} is asked to equal two values")
        terms[key] = value
    return terms


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every term of ``selector`` holds in ``labels`` (the empty selector: always)."""
    return all(labels.get(key) == value for key, value in selector.items())
