"""All detectors over one text, with overlapping readings resolved to the most specific."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import lru_cache

from policy_engine.domain.pii.model import Entity, Finding
from policy_engine.domain.pii.ner import find_names
from policy_engine.domain.pii.phone import find_phones
from policy_engine.domain.pii.secrets import find_key_named, find_private_keys, find_provider_tokens
from policy_engine.domain.pii.structured import (
    find_cards,
    find_emails,
    find_ibans,
    find_ips,
    find_ssns,
)

Detector = Callable[[str, str], list[Finding]]
_SECRET_DETECTORS: tuple[Detector, ...] = (find_private_keys, find_provider_tokens, find_key_named)
_DIGIT_DETECTORS: tuple[Detector, ...] = (find_ibans, find_cards, find_ssns, find_ips, find_phones)
_DIGIT = re.compile(r"\d")

# Overlapping readings are one value: its mask covers the union of their spans, so no
# reading's characters survive whichever wins, and it takes the most specific label — a
# Stripe key inside ``api_key=…`` is a stripe_key, an IBAN's digits are not also a phone
# number, an IPv4 inside an IPv6 address is the IPv6. A valid phone number outranks the SSN
# reading of its digits: a nearby ``ssn`` word or key may make a bare 9-digit run an SSN, but
# not the subscriber part of ``+49(0) 765124532``. Names and places, guesses of a model, come
# last.
_SECRET_RANK = {
    "pem_private_key": 0,
    "aws_secret_key": 2,
    "key_named_secret": 3,
    "bearer_token": 3,
    "url_password": 3,
}
_ENTITY_RANK = {
    Entity.SECRET: 1,
    Entity.IBAN: 4,
    Entity.CREDIT_CARD: 5,
    Entity.PHONE: 6,
    Entity.US_SSN: 7,
    Entity.EMAIL: 8,
    Entity.IP_ADDRESS: 9,
    Entity.PERSON: 10,
    Entity.LOCATION: 11,
}


def _rank(finding: Finding) -> tuple[int, int, int]:
    rank = _ENTITY_RANK[finding.entity]
    if finding.entity is Entity.SECRET:
        rank = _SECRET_RANK.get(finding.kind, rank)
    return rank, finding.start - finding.end, finding.start  # then the longest, then the first


def without_overlaps(findings: list[Finding]) -> list[Finding]:
    """One finding per group of overlapping findings, sorted by position: the group's union
    span with the label of its best-ranked member (see the rule above)."""
    if len(findings) < 2:
        return findings
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    group = [ordered[0]]
    end = ordered[0].end
    for candidate in ordered[1:]:
        if candidate.start < end:
            group.append(candidate)
            end = max(end, candidate.end)
            continue
        merged.append(_union(group, end))
        group, end = [candidate], candidate.end
    merged.append(_union(group, end))
    return merged


def _union(group: list[Finding], end: int) -> Finding:
    if len(group) == 1:
        return group[0]
    best = min(group, key=_rank)
    return Finding(best.entity, group[0].start, end, best.kind)


SHORT_TEXT = 256
"""Texts up to this length are scanned once and remembered (see :func:`scan_text_under`)."""


NO_NAMES: frozenset[Entity] = frozenset()


def scan_text_under(text: str, key: str, names: frozenset[Entity] = NO_NAMES) -> list[Finding]:
    """:func:`scan_text` for a text stored under ``key``, which is context (``phone``, ``ssn``);
    with ``names`` (PERSON, LOCATION) the named-entity model reads it too.

    Short texts repeat from request to request (agent ids, action types, models, resources,
    label and context keys), and every detector together costs a few microseconds per text:
    their findings are remembered in a bounded LRU (the detectors are pure functions of
    ``(text, key)``).
    """
    if len(text) < 3:
        return []
    found = list(_scan_short(text, key)) if len(text) <= SHORT_TEXT else _scan(text, key)
    if names:
        named = find_names(text, names, key)
        if named:
            return without_overlaps(found + named)
    return found


@lru_cache(maxsize=8192)
def _scan_short(text: str, key: str) -> tuple[Finding, ...]:
    return tuple(_scan(text, key))


def _scan(text: str, key: str) -> list[Finding]:
    found: list[Finding] = []
    for detector in _SECRET_DETECTORS:
        found += detector(text, key)
    if _DIGIT.search(text):
        for detector in _DIGIT_DETECTORS:
            found += detector(text, key)
    found += find_emails(text, key)
    return without_overlaps(found)


def scan_text(text: str, names: Collection[Entity] = NO_NAMES) -> list[Finding]:
    """Every PII entity and secret in ``text``, sorted by position, without overlaps; names and
    places too when ``names`` asks for them."""
    return scan_text_under(text, "", frozenset(names))
