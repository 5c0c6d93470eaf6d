"""The public words for protobuf enum values: what requests send and answers show.

Protobuf names stay inside (``DEPLOYMENT_STATUS_SUCCEEDED`` on the wire and in stored rows);
the public JSON says ``succeeded`` — the value without its enum's prefix, in lower case. This
module is the one mapping between the two, both ways.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from google.protobuf.message import Message

__all__ = [
    "EnumDescriptor",
    "enum_prefix",
    "proto_name",
    "public_fields",
    "public_value",
    "public_values",
]

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


class EnumDescriptor(Protocol):
    """What is read of an enum's descriptor (pure-Python and upb descriptors both have it)."""

    @property
    def name(self) -> str: ...
    @property
    def full_name(self) -> str: ...
    @property
    def values(self) -> Sequence[Any]: ...
    @property
    def values_by_name(self) -> Mapping[str, Any]: ...


def enum_prefix(enum: EnumDescriptor) -> str:
    """``DEPLOYMENT_STATUS_`` for ``DeploymentStatus``: protobuf's convention for value names."""
    return _WORD_START.sub("_", enum.name).upper() + "_"


def public_value(enum: EnumDescriptor, name: str) -> str:
    """``succeeded`` for ``DEPLOYMENT_STATUS_SUCCEEDED``; ValueError for a name not in ``enum``."""
    prefix = enum_prefix(enum)
    if name not in enum.values_by_name or not name.startswith(prefix):
        raise ValueError(f"{name!r} is not a value of {enum.full_name}")
    return name[len(prefix) :].lower()


def proto_name(enum: EnumDescriptor, value: str) -> str:
    """``DEPLOYMENT_STATUS_SUCCEEDED`` for ``succeeded``; ValueError for an unknown word."""
    name = enum_prefix(enum) + value.upper()
    if value != value.lower() or name not in enum.values_by_name:
        raise ValueError(f"{value!r} is not one of {', '.join(public_values(enum))}")
    return name


def public_values(enum: EnumDescriptor) -> list[str]:
    """Every public word of ``enum`` except the ``unspecified`` zero value, in number order."""
    return [public_value(enum, v.name) for v in enum.values if v.number != 0]


def public_fields(message: type[Message], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` (a ``message`` as ``MessageToDict`` gives it, proto field names) with every
    enum value in its public word; values that are no enum name (a number) are left as they
    are, and so are the fields ``message`` does not have."""
    out = dict(fields)
    for field in message.DESCRIPTOR.fields:
        if field.enum_type is None or field.name not in out:
            continue
        value = out[field.name]
        if isinstance(value, list):
            out[field.name] = [_public_or_same(field.enum_type, v) for v in value]
        else:
            out[field.name] = _public_or_same(field.enum_type, value)
    return out


def _public_or_same(enum: EnumDescriptor, value: Any) -> Any:
    if isinstance(value, str) and value in enum.values_by_name:
        return public_value(enum, value)
    return value
