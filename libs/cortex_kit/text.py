"""Text the store can hold: the one rule for strings that reach a PostgreSQL ``text`` or
``jsonb`` value, for HTTP schemas (pydantic types) and message consumers alike.

PostgreSQL cannot hold U+0000 in ``text`` (22021) nor ``\\u0000`` in ``jsonb``, and nothing
can encode an unpaired surrogate (U+D800 to U+DFFF, which JSON's ``"\\ud800"`` decodes to) as the
UTF-8 the database speaks. Identifiers (ids, slugs, keys of things) must not hold control
characters (U+0000 to U+001F, U+007F) either: they end up in paths, headers and logs.

Each check is one regular-expression search per string, cheap enough for the ingest hot path.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator

__all__ = [
    "IdentifierText",
    "StorableText",
    "identifier_problem",
    "identifier_text",
    "storable_problem",
    "storable_text",
]

# A surrogate in a ``str`` is always unpaired in the UTF-8 sense: JSON decoders and UTF-8
# decoders join a valid pair into one astral code point.
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
_NOT_IDENTIFIER: Final = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _describe(found: re.Match[str]) -> str:
    # Never echoes the value: it may not even be encodable in the answer.
    char = found.group()
    code = ord(char)
    if code == 0:
        what = "a NUL character"
    elif 0xD800 <= code <= 0xDFFF:
        what = "an unpaired surrogate"
    else:
        what = "a control character"
    return f"contains {what} (U+{code:04X}) at position {found.start()}"


def storable_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored (NUL, unpaired surrogate), or None if it can."""
    found = _UNSTORABLE.search(value)
    return None if found is None else _describe(found)


def identifier_problem(value: str) -> str | None:
    """Why ``value`` is no identifier (a control character, or not storable), or None."""
    found = _NOT_IDENTIFIER.search(value)
    return None if found is None else _describe(found)


def storable_text(value: str) -> str:
    """``value`` unchanged; ValueError if the store cannot hold it (a pydantic validator)."""
    problem = _UNSTORABLE.search(value)
    if problem is not None:
        raise ValueError(f"{_describe(problem)}, which cannot be stored")
    return value


def identifier_text(value: str) -> str:
    """``value`` unchanged; ValueError if it holds a control character or cannot be stored."""
    problem = _NOT_IDENTIFIER.search(value)
    if problem is not None:
        raise ValueError(f"{_describe(problem)}, which an identifier may not hold")
    return value


StorableText = Annotated[str, AfterValidator(storable_text)]
"""Free-form text: anything but NUL and unpaired surrogates."""

IdentifierText = Annotated[str, AfterValidator(identifier_text)]
"""An id or name: storable text without control characters."""
