"""The GeoNames gazetteer (``pii_gazetteer``): what it keeps and how runs of words match."""

import pytest

from policy_engine.domain.pii import gazetteer
from policy_engine.domain.pii import ner as pii_ner


@pytest.fixture(scope="module")
def places() -> gazetteer.Gazetteer:
    return pii_ner.places()  # loaded once with the model


def _found(places: gazetteer.Gazetteer, text: str) -> list[str]:
    return [text[p.start : p.end] for p in gazetteer.places(places, text, frozenset({"our"}))]


def test_it_holds_cities_by_their_own_and_alternate_names_countries_and_states(
    places: gazetteer.Gazetteer,
) -> None:
    for name in ("Lisbon", "Lisboa", "München", "Köln", "São Paulo", "Japan", "Texas", "Europe"):
        assert name in places.population, name
    assert "Lisboa" not in places.primary  # an alternate name of Lisbon
    assert places.population["Lisboa"] >= gazetteer.LARGE_PLACE


def test_it_drops_codes_digits_and_alternate_names_that_are_english_words(
    places: gazetteer.Gazetteer,
) -> None:
    for name in ("LIS", "MUC", "She", "Can", "But"):
        assert name not in places.population, name


def test_a_run_matches_as_a_whole_or_before_a_place_particle(
    places: gazetteer.Gazetteer,
) -> None:
    assert _found(places, "Our Lisboa warehouse") == ["Lisboa"]
    assert _found(places, "relocating to Rio de Janeiro in June") == ["Rio de Janeiro"]
    assert _found(places, "Saint-Étienne and Clermont-Ferrand") == [
        "Saint-Étienne",
        "Clermont-Ferrand",
    ]
    assert _found(places, "Berlin am Montag") == ["Berlin"]
    assert _found(places, "Sofia Khan and Augusto da Silva") == []  # longer than a place
    assert _found(places, "berlin, nice, reading") == []  # not capitalised
    assert _found(places, "Berlin_2 and https://paris.example/Paris-x") == []  # inside tokens


def test_matches_say_whether_they_are_english_words_or_alternate_names(
    places: gazetteer.Gazetteer,
) -> None:
    (nice,) = gazetteer.places(places, "Meet me in Nice")
    assert nice.english
    assert not nice.alternate
    (lisboa,) = gazetteer.places(places, "Meet me in Lisboa")
    assert lisboa.alternate
    assert not lisboa.english
