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
whatever their score.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.common import Metric, Metrics, metric, percentile, ratio
from benchmarks.pii_corpus import Sample, sized, structured_recall, tally
from policy_engine.domain.pii import Entity, Finding, scan_payload, scan_text

PRESIDIO_ENTITIES = {
    "EMAIL_ADDRESS": Entity.EMAIL,
    "PHONE_NUMBER": Entity.PHONE,
    "CREDIT_CARD": Entity.CREDIT_CARD,
    "IBAN_CODE": Entity.IBAN,
    "US_SSN": Entity.US_SSN,
    "IP_ADDRESS": Entity.IP_ADDRESS,
}


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


def run_pii_benchmark(quick: bool) -> Metrics:
    """p50/p99 per ~1 KB payload for us and Presidio, the speed-up, and structured recall."""
    payloads: list[Sample] = sized(150 if quick else 600)
    texts = [one.text for one in payloads]
    engine = presidio_analyzer()

    ours, ours_cpu = _latencies_ms(scan_payload, texts, rounds=2 if quick else 5)
    theirs, theirs_cpu = _latencies_ms(
        lambda text: engine.analyze(text=text, language="en"), texts, rounds=1 if quick else 2
    )
    our_recall = structured_recall(tally(payloads, [scan_text(t) for t in texts]))
    their_recall = structured_recall(tally(payloads, [presidio_findings(engine, t) for t in texts]))

    def ms(values: list[float], q: float, *, target: float | None = None) -> Metric:
        return metric(round(percentile(values, q), 4), "ms", better="lower", target=target)

    return {
        "pii_p50_ms_1kb": ms(ours, 50),
        "pii_p99_ms_1kb": ms(ours, 99, target=2),
        "presidio_p50_ms_1kb": ms(theirs, 50),
        "presidio_p99_ms_1kb": ms(theirs, 99),
        "speedup_vs_presidio": metric(
            ratio(statistics.fmean(theirs), statistics.fmean(ours)), "x", better="higher", target=3
        ),
        "pii_recall_structured": metric(round(our_recall, 4), "ratio", better="higher"),
        "presidio_recall_structured": metric(round(their_recall, 4), "ratio", better="higher"),
        "pii_cpu_p99_ms_1kb": ms(ours_cpu, 99),
        "presidio_cpu_p99_ms_1kb": ms(theirs_cpu, 99),
        "speedup_vs_presidio_cpu": metric(
            ratio(statistics.fmean(theirs_cpu), statistics.fmean(ours_cpu)), "x", better="higher"
        ),
    }
