"""The PII tier of the ``policy`` suite: our detector next to Presidio on the same payloads.

Both sides get the same ~1 KB text payloads from :mod:`benchmarks.pii_corpus` (whole labelled
samples joined until about 1 KB). Ours is timed through :func:`scan_payload` (size check
included); Presidio through ``AnalyzerEngine.analyze`` with its regex/validation recognizers
for the same entities (Email, Phone, CreditCard, Iban, UsSsn, Ip) and its ``NoOpNlpEngine``:
no spaCy model, no NER — Presidio's cheapest configuration, which flatters it. Its e-mail
validation (``tldextract``) is pointed at the bundled suffix list so nothing is fetched.

Latencies are per payload, after a warm-up pass. ``speedup_vs_presidio`` is the ratio of the
mean latencies (total time over the same payloads), which is steadier on a shared machine
than a ratio of p99s. On a busy machine a wall-clock p99 is mostly preemption, so the same
calls are also timed in thread CPU time (``*_cpu_*``).

Recall is over the structured entities (EMAIL, PHONE, CREDIT_CARD, IBAN, US_SSN, IP_ADDRESS):
a label counts when a finding of the same entity overlaps it; Presidio's findings count
whatever their score. It is measured on both labelled corpora — the generated one
(:mod:`benchmarks.pii_corpus`) and the Faker one (:mod:`benchmarks.pii_faker_corpus`) — and
``pii_recall_structured`` / ``presidio_recall_structured`` report the lower of the two.

Names and places are timed apart (``pii_ner_*``): ~1 KB texts of Faker samples (names,
places and structured values), scanned by :func:`scan_payload` with PERSON and LOCATION asked
for (the model's ``ner`` component and the context rules of ``pii_name_context``, structured
detectors included), next to Presidio with its spaCy NLP engine on the same model
(``en_core_web_sm``, its full pipeline) and the same entities. Their PERSON/LOCATION recall
and precision on those texts are reported.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import pii_faker_corpus
from benchmarks.common import Metric, Metrics, interpolated_percentile, metric, ratio
from benchmarks.pii_corpus import Frag, Sample, Tally, Writer, sized, structured_recall, tally
from policy_engine.domain.pii import Entity, Finding, scan_payload, scan_text
from policy_engine.domain.pii import ner as pii_ner

PRESIDIO_ENTITIES = {
    "EMAIL_ADDRESS": Entity.EMAIL,
    "PHONE_NUMBER": Entity.PHONE,
    "CREDIT_CARD": Entity.CREDIT_CARD,
    "IBAN_CODE": Entity.IBAN,
    "US_SSN": Entity.US_SSN,
    "IP_ADDRESS": Entity.IP_ADDRESS,
}
PRESIDIO_NAMES = {"PERSON": Entity.PERSON, "LOCATION": Entity.LOCATION}
NAMES = frozenset(PRESIDIO_NAMES.values())


def _latencies_ms(
    analyze: Callable[[str], object], texts: Sequence[str], rounds: int
) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU milliseconds per call, after a warm-up pass."""
    for text in texts[: max(1, len(texts) // 10)]:  # caches, lazily loaded phone metadata
        analyze(text)
    wall, cpu = [], []
    for _ in range(rounds):
        for text in texts:
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            analyze(text)
            cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
            wall.append((time.perf_counter_ns() - started) / 1e6)
    return wall, cpu


def presidio_analyzer() -> Any:
    """Presidio's engine with only the pattern recognizers for our entities, fully offline."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # read before import
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    recognizers = [
        EmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def presidio_findings(engine: Any, text: str) -> list[Finding]:
    return [
        Finding(PRESIDIO_ENTITIES[r.entity_type], r.start, r.end, "presidio")
        for r in engine.analyze(text=text, language="en")
        if r.entity_type in PRESIDIO_ENTITIES
    ]


def presidio_with_spacy() -> Any:
    """Presidio's default engine: every predefined recognizer, spaCy NER on our model."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    model = {"lang_code": "en", "model_name": pii_ner.MODEL_PACKAGE}
    config = {"nlp_engine_name": "spacy", "models": [model]}
    nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


_NER_ENTITIES = [*PRESIDIO_ENTITIES, *PRESIDIO_NAMES]


def presidio_ner_findings(engine: Any, text: str) -> list[Finding]:
    wanted = PRESIDIO_ENTITIES | PRESIDIO_NAMES
    return [
        Finding(wanted[r.entity_type], r.start, r.end, "presidio")
        for r in engine.analyze(text=text, language="en", entities=_NER_ENTITIES)
    ]


def faker_sized(count: int, size: int = 1024) -> list[Sample]:
    """``count`` texts of about ``size`` characters, each made of whole Faker samples."""
    pool = iter(pii_faker_corpus.generate(count * 12, seed=11))
    out = []
    for _ in range(count):
        writer, length = Writer(), 0
        while length < size * 0.9:
            one = next(pool)
            writer.add("\n" if length else "").frag(Frag(one.text, one.labels))
            length += len(one.text) + 1
        done = writer.done()
        out.append(Sample("mixed", done.text, done.labels, done.text, ()))
    return out


def _name_rows(samples: list[Sample], found: list[list[Finding]]) -> dict[str, Tally]:
    rows = tally(samples, found)
    return {e.value: rows.get(e.value, Tally()) for e in NAMES}


def run_ner_benchmark(quick: bool) -> Metrics:
    """NER tier: us (structured + PERSON/LOCATION) and Presidio with spaCy, same 1 KB texts."""
    samples = faker_sized(40 if quick else 150)
    texts = [one.text for one in samples]
    pii_ner.load()
    engine = presidio_with_spacy()

    def ours(text: str) -> object:
        return scan_payload(text, names=NAMES)

    def theirs(text: str) -> object:
        return engine.analyze(text=text, language="en", entities=_NER_ENTITIES)

    ours_ms, _ = _latencies_ms(ours, texts, rounds=1 if quick else 3)
    theirs_ms, _ = _latencies_ms(theirs, texts, rounds=1 if quick else 2)
    our_rows = _name_rows(samples, [scan_text(t, NAMES) for t in texts])
    their_rows = _name_rows(samples, [presidio_ner_findings(engine, t) for t in texts])

    def ratio_of(value: float) -> Metric:
        return metric(round(value, 4), "ratio", better="higher")

    out: Metrics = {
        "pii_ner_p50_ms_1kb": metric(
            round(interpolated_percentile(ours_ms, 50), 3), "ms", better="lower"
        ),
        "pii_ner_p99_ms_1kb": metric(
            round(interpolated_percentile(ours_ms, 99), 3), "ms", better="lower"
        ),
        "presidio_spacy_p50_ms_1kb": metric(
            round(interpolated_percentile(theirs_ms, 50), 3), "ms", better="lower"
        ),
        "presidio_spacy_p99_ms_1kb": metric(
            round(interpolated_percentile(theirs_ms, 99), 3), "ms", better="lower"
        ),
        "speedup_vs_presidio_spacy": metric(
            ratio(statistics.fmean(theirs_ms), statistics.fmean(ours_ms)), "x", better="higher"
        ),
    }
    for entity in NAMES:
        name = entity.value.lower()
        out[f"pii_ner_recall_{name}"] = ratio_of(our_rows[entity.value].recall)
        out[f"pii_ner_precision_{name}"] = ratio_of(our_rows[entity.value].precision)
        out[f"presidio_spacy_recall_{name}"] = ratio_of(their_rows[entity.value].recall)
        out[f"presidio_spacy_precision_{name}"] = ratio_of(their_rows[entity.value].precision)
    return out


def run_pii_benchmark(quick: bool) -> Metrics:
    """p50/p99 per ~1 KB payload for us and Presidio, the speed-up, structured recall (the
    lower of both corpora), then the NER tier (:func:`run_ner_benchmark`)."""
    payloads: list[Sample] = sized(150 if quick else 600)
    texts = [one.text for one in payloads]
    engine = presidio_analyzer()

    ours, ours_cpu = _latencies_ms(scan_payload, texts, rounds=2 if quick else 5)
    theirs, theirs_cpu = _latencies_ms(
        lambda text: engine.analyze(text=text, language="en"), texts, rounds=1 if quick else 2
    )
    faker = pii_faker_corpus.generate(600 if quick else 3000)
    recalls = {
        corpus: (
            structured_recall(tally(samples, [scan_text(s.text) for s in samples])),
            structured_recall(tally(samples, [presidio_findings(engine, s.text) for s in samples])),
        )
        for corpus, samples in (("generated", payloads), ("faker", faker))
    }
    our_recall = min(ours for ours, _ in recalls.values())
    their_recall = min(theirs for _, theirs in recalls.values())

    def ms(values: list[float], q: float, *, target: float | None = None) -> Metric:
        return metric(
            round(interpolated_percentile(values, q), 4), "ms", better="lower", target=target
        )

    metrics: Metrics = {
        "pii_p50_ms_1kb": ms(ours, 50),
        "pii_p99_ms_1kb": ms(ours, 99, target=2),
        "presidio_p50_ms_1kb": ms(theirs, 50),
        "presidio_p99_ms_1kb": ms(theirs, 99),
        "speedup_vs_presidio": metric(
            ratio(statistics.fmean(theirs), statistics.fmean(ours)), "x", better="higher", target=3
        ),
        "pii_recall_structured": metric(round(our_recall, 4), "ratio", better="higher"),
        "presidio_recall_structured": metric(round(their_recall, 4), "ratio", better="higher"),
        **{
            f"{who}_recall_structured_{corpus}": metric(round(value, 4), "ratio", better="higher")
            for corpus, pair in recalls.items()
            for who, value in zip(("pii", "presidio"), pair, strict=True)
        },
        "pii_cpu_p99_ms_1kb": ms(ours_cpu, 99),
        "presidio_cpu_p99_ms_1kb": ms(theirs_cpu, 99),
        "speedup_vs_presidio_cpu": metric(
            ratio(statistics.fmean(theirs_cpu), statistics.fmean(ours_cpu)), "x", better="higher"
        ),
    }
    return metrics | run_ner_benchmark(quick)
