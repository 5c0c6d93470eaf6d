"""Names and places: found by the NER model only for policies that ask, masked or denied like
the other entities; accuracy on the Faker corpus per locale (run with ``-s`` for the table)."""

from collections import defaultdict

import pytest

from benchmarks.pii_corpus import Sample, table, tally
from benchmarks.pii_faker_corpus import generate
from policy_engine.domain.decisions.decision import PII_DENIED
from policy_engine.domain.pii import Entity, mask_payload, scan_payload, scan_text
from policy_engine.domain.pii import ner as pii_ner
from policy_engine.evaluation.scanning import names_asked

from .builders import codes, compiled, context, decide

NAMES = frozenset((Entity.PERSON, Entity.LOCATION))


@pytest.fixture(scope="module", autouse=True)
def model() -> None:
    pii_ner.load()  # once per process; every later call returns the loaded pipeline


def test_names_and_places_are_found_only_when_asked() -> None:
    text = "Please ship the order to Maria Schmidt in Berlin."
    assert scan_text(text) == []
    found = [(f.entity, text[f.start : f.end]) for f in scan_text(text, NAMES)]
    assert found == [(Entity.PERSON, "Maria Schmidt"), (Entity.LOCATION, "Berlin")]
    assert [f.entity for f in scan_text(text, {Entity.PERSON})] == [Entity.PERSON]


def test_a_name_in_a_payload_is_masked_with_its_token() -> None:
    payload = {"note": "Call John Smith about the invoice", "to": "john@example.com"}
    scan = scan_payload(payload, names=NAMES)
    masked = mask_payload(payload, scan, [Entity.PERSON, Entity.EMAIL])
    assert masked == {"note": "Call [PERSON] about the invoice", "to": "[EMAIL]"}


def test_the_model_runs_only_for_a_policy_that_names_person_or_location() -> None:
    assert names_asked(compiled({"pii": {"default": "deny"}})) == frozenset()
    assert names_asked(compiled({"pii": {"entities": {"PERSON": "mask"}}})) == {Entity.PERSON}
    assert names_asked(compiled({"pii": {"entities": {"LOCATION": "allow"}}})) == frozenset()


def test_a_policy_denies_names_like_any_other_entity() -> None:
    policy = compiled({"pii": {"entities": {"PERSON": "deny", "LOCATION": "mask"}}})
    result = decide(policy, context(pii_entities_found={"PERSON": 1, "LOCATION": 2}))
    assert result.decision == "deny"
    assert PII_DENIED in codes(result)


@pytest.fixture(scope="module")
def corpus() -> list[Sample]:
    return [one for one in generate(700) if one.labels]


def test_names_in_english_locales_are_mostly_found(corpus: list[Sample]) -> None:
    found = [scan_text(one.text, NAMES) for one in corpus]
    print(f"\nNER, Faker corpus, {len(corpus)} payloads\n{table(tally(corpus, found))}")
    by_locale: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for one, findings in zip(corpus, found, strict=True):
        for label in one.labels:
            if label.entity is Entity.PERSON:
                hit = any(
                    f.entity is Entity.PERSON and f.start < label.end and label.start < f.end
                    for f in findings
                )
                by_locale[label.kind][0] += 1
                by_locale[label.kind][1] += hit
    recall = {locale: hit / n for locale, (n, hit) in sorted(by_locale.items())}
    print("PERSON recall by locale:", {k: round(v, 3) for k, v in recall.items()})
    assert recall["en_US"] >= 0.8
    assert recall["en_GB"] >= 0.8
