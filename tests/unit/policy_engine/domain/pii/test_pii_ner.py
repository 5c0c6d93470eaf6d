"""Names and places: found by the NER model and its context rules only for policies that ask,
masked or denied like the other entities. Accuracy is measured on both corpora, in
``test_pii_accuracy`` and ``test_pii_faker_accuracy``."""

import pytest

from policy_engine.domain.decisions.decision import PII_DENIED
from policy_engine.domain.pii import Entity, mask_payload, scan_payload, scan_text
from policy_engine.domain.pii import ner as pii_ner
from policy_engine.domain.pii.name_context import entity_of_key
from policy_engine.domain.pii.text import scan_text_under
from policy_engine.evaluation.scanning import names_asked
from tests.unit.policy_engine.builders import codes, compiled, context, decide

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


def _names(text: str, key: str = "") -> list[tuple[str, str]]:
    found = scan_text_under(text, key, NAMES)
    return [(f.entity.value, text[f.start : f.end]) for f in found if f.entity in NAMES]


def test_a_value_under_a_person_or_place_key_is_read_whole() -> None:
    assert _names("Ana Lima", "customer_name") == [("PERSON", "Ana Lima")]
    assert _names("da Mata de Silveira", "city") == [("LOCATION", "da Mata de Silveira")]
    assert entity_of_key("file_name") is None
    assert entity_of_key("email_address") is None
    assert entity_of_key("shipping_address") is Entity.LOCATION
    assert _names("build-42", "name") == []  # not shaped like a name


def test_label_lines_titles_and_salutations_mark_a_person() -> None:
    assert ("PERSON", "Reyes Bayo Benavent") in _names("Name: Reyes Bayo Benavent\nok")
    assert _names('{"city": "Jaén"}') == [("LOCATION", "Jaén")]
    assert _names("Sehr geehrte Frau Müller-Lüdenscheidt,") == [
        ("PERSON", "Frau Müller-Lüdenscheidt")
    ]
    assert ("PERSON", "Srta. Isabela Guerra") in _names("Srta. Isabela Guerra asked for it")


def test_japanese_names_and_municipalities_by_script() -> None:
    text = "佐藤 太郎様、長生郡長柄町の件でご連絡します。"
    assert _names(text) == [("PERSON", "佐藤 太郎様"), ("LOCATION", "長生郡長柄町")]
    assert _names("都市の地区") == []  # generic nouns, not municipalities


def test_a_lone_capitalised_word_opening_a_sentence_is_not_a_name() -> None:
    assert _names("Summarise the attached report. Tel.: see below") == []
    assert _names("Order ORD-7399-GH was packed") == []


def test_a_place_word_makes_a_model_person_a_place() -> None:
    assert ("LOCATION", "Bergzabern") in _names("Your parcel has left Bergzabern today.")


def test_to_or_from_before_a_persons_name_does_not_make_it_a_place() -> None:
    assert _names("Assign the ticket to Maria and set priority high.") == [("PERSON", "Maria")]
    assert ("LOCATION", "Maria") not in _names("Please forward this to Maria.")


def test_a_title_ends_the_name_before_a_lowercase_word() -> None:
    found = _names("Customer Mr Dean Carr from Leeds reported a billing issue.")
    assert found == [("PERSON", "Mr Dean Carr"), ("LOCATION", "Leeds")]


def test_a_name_after_a_person_and_from_is_a_place_even_of_several_words() -> None:
    found = _names("Customer Ana Lima from Vargas de Siqueira reported a billing issue.")
    assert ("LOCATION", "Vargas de Siqueira") in found


def test_gazetteer_places_without_a_place_word() -> None:
    assert _names("Our Lisboa warehouse is closed for inventory.") == [("LOCATION", "Lisboa")]
    assert _names("Which timezone is Toulouse in?") == [("LOCATION", "Toulouse")]
    assert ("LOCATION", "Rio de Janeiro") in _names("Our Rio de Janeiro office is open.")
    assert ("LOCATION", "Bristol") in _names("Book a flight to Bristol on Monday.")


def test_gazetteer_does_not_take_part_of_a_name_nor_a_word_opening_a_sentence() -> None:
    assert _names("Sofia Khan approved the refund.") == [("PERSON", "Sofia Khan")]
    assert _names("Split the file and retry.") == []  # Split, Croatia: an English verb
    assert _names("Subject: Amet rerum pariatur.") == []  # lorem ipsum, a small town's alias
    assert _names("deploy to berlin-prod and nice-staging") == []


def test_to_and_for_name_a_place_in_a_clause_about_travel_or_the_place() -> None:
    assert ("LOCATION", "Jacksonside") in _names("Ship the package to Jacksonside by Friday.")
    assert ("LOCATION", "Klötze") in _names("I'm calling about my order to Klötze.")
    found = _names("Madeleine Alves moved from Aubert to Gilbert last year.")
    assert ("LOCATION", "Aubert") in found
    assert ("LOCATION", "Gilbert") in found
    assert ("LOCATION", "Beeskow") in _names("What's the weather forecast for Beeskow today?")


def test_a_kind_of_place_after_the_name_and_hyphenated_parts() -> None:
    text = "Summarise the call with Wolf Harloff about the Gießen store."
    assert ("LOCATION", "Gießen") in _names(text)
    text = "What's the weather forecast for Martinez-sur-Mer this weekend?"
    assert ("LOCATION", "Martinez-sur-Mer") in _names(text)


def test_from_alone_before_an_unknown_word_does_not_make_a_place() -> None:
    assert ("LOCATION", "Maria") not in _names("An email from Maria arrived.")
    assert ("LOCATION", "Elliotttown") in _names("Customer Lynne King from Elliotttown called.")
