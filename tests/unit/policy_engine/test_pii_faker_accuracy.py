"""Per-entity precision and recall on the second corpus (:mod:`benchmarks.pii_faker_corpus`):
Faker values in seven locales, other templates and containers than the first corpus.

Run with ``-s`` to see the tables. Targets as on the first corpus: recall ≥ 0.99 and
precision ≥ 0.98 per structured entity and per prefix/checksum secret, at most 1 % of clean
payloads flagged. Names and places are measured in ``test_pii_ner``.
"""

import pytest

from benchmarks.pii_corpus import Sample, Tally, table, tally
from benchmarks.pii_faker_corpus import LOCALES, generate
from policy_engine.domain.pii import Entity, scan_text

STRICT = {
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "IP_ADDRESS",
    "SECRET/aws_access_key",
    "SECRET/github_token",
    "SECRET/pem_private_key",
    "SECRET/slack_token",
    "SECRET/stripe_key",
}
NAMES = {"PERSON", "LOCATION"}


@pytest.fixture(scope="module")
def corpus() -> list[Sample]:
    return generate(3000)


def test_corpus_covers_every_locale_entity_and_container(corpus: list[Sample]) -> None:
    rows = tally(corpus, [[] for _ in corpus])
    phone_locales = {
        label.kind for one in corpus for label in one.labels if label.entity is Entity.PHONE
    }
    assert set(rows) >= STRICT | NAMES
    assert all(rows[name].labels >= 200 for name in STRICT)
    assert phone_locales == set(LOCALES)
    assert {one.category for one in corpus} >= {"as_url", "as_nested_json", "as_csv", "clean"}


def test_structured_entities_and_secrets_meet_the_targets(corpus: list[Sample]) -> None:
    rows = tally(corpus, [scan_text(one.text) for one in corpus])
    print(f"\nPII accuracy, Faker corpus, {len(corpus)} payloads\n{table(rows)}")
    below = [
        f"{name}: recall {t.recall:.4f}, precision {t.precision:.4f}"
        for name, t in rows.items()
        if name in STRICT and (t.recall < 0.99 or t.precision < 0.98)
    ]
    assert below == []


def test_no_structured_finding_is_a_name(corpus: list[Sample]) -> None:
    """Without a policy that asks, names and places are not looked for at all."""
    rows: dict[str, Tally] = tally(corpus, [scan_text(one.text) for one in corpus])
    assert all(rows[name].findings == 0 for name in NAMES)


def test_at_most_one_percent_of_clean_payloads_is_flagged(corpus: list[Sample]) -> None:
    clean = [one for one in corpus if not one.labels]
    flagged = [one.text for one in clean if scan_text(one.text)]
    print(f"\nFaker corpus, clean payloads flagged: {len(flagged)} of {len(clean)}")
    assert len(flagged) <= 0.01 * len(clean), flagged[:5]
