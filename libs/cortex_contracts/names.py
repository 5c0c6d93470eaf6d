"""The one rule for service and environment names, at every door (docs/metrics.md "Facts").

A name is what real tools produce: GitHub's ``.github`` repository, GitLab's ``Production EU``
environment, a ``生产`` environment or a ``支付`` service. After its surrounding spaces are
removed it holds 1 to 200 characters: Unicode letters, digits and combining marks, spaces,
``.``, ``_``, ``-`` and ``/``, with at least one letter or digit. Everything else — control
characters, other punctuation and symbols — is refused, so a name is safe in a log line, a URL
query and a Prometheus label value. (No name reaches a NATS subject: subjects carry the agency.)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["NAME_MAX_LENGTH", "NAME_RULE", "canonical_name", "name_problem"]

NAME_MAX_LENGTH: Final = 200
NAME_RULE: Final = (
    f"1 to {NAME_MAX_LENGTH} letters, digits, spaces and . _ - / (any script, at least one "
    "letter or digit)"
)
# ``\w`` is Unicode-aware (letters, digits, underscore); combining marks, which some scripts
# need (Devanagari vowel signs), are checked one by one below.
_OUTSIDE: Final = re.compile(r"[^\w .\-/]")


def _shown(char: str) -> str:
    code = ord(char)
    if unicodedata.category(char) == "Cc":
        return f"the control character U+{code:04X}"
    return f"U+{code:04X}" if not char.isprintable() else f"U+{code:04X} {char!r}"


def name_problem(value: str) -> str | None:
    """Why ``value`` (surrounding spaces ignored) is no name, the fix first; None if it is."""
    name = value.strip(" ")
    if not name:
        return f"is empty: send a name of {NAME_RULE}"
    if len(name) > NAME_MAX_LENGTH:
        return f"shorten it to {NAME_MAX_LENGTH} characters (it has {len(name)})"
    for found in _OUTSIDE.finditer(name):
        if not unicodedata.category(found.group()).startswith("M"):
            return (
                f"remove or replace {_shown(found.group())} at position {found.start()}: "
                f"a name holds {NAME_RULE}"
            )
    if not any(c.isalnum() for c in name):
        return f"add a letter or digit: a name holds {NAME_RULE}"
    return None


def canonical_name(name: str) -> str:
    """The one identity of a service or an environment, whatever door or tool named it:
    ``Hello-World`` (GitHub), ``hello-world`` (PagerDuty) and ``HELLO-WORLD`` (REST) are one
    service, ``Production`` and ``production`` one environment. Case-folded (Unicode
    ``str.casefold``, so ``Straße`` is ``strasse``), surrounding spaces removed, in NFC
    (Unicode's canonical caseless match, so a decomposed ``Café`` is the composed one)."""
    name = name.strip()
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())
