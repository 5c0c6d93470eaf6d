"""PII and secrets in agent payloads: detection, masking and the size/time cap (pure, no I/O).

A payload is any JSON-like value: ``str``, ``int``, ``float``, ``bool``, ``None``, and
``dict`` (string keys) / ``list`` / ``tuple`` of them. What :func:`scan_payload` reads:

* every string value, and every integer as its digits (``{"card": 4111111111111111}``);
* every dict key too — maps keyed by e-mail or IP address are common, and PII in a key must
  not pass unmasked; :func:`mask_payload` rewrites such a key (``[EMAIL]``, ``[EMAIL]#2``);
* key names as context: the whole string under ``password``, ``api_key``, ``Authorization``
  … is a secret unless it is a placeholder, and under a ``phone`` or ``ssn`` key a bare digit
  run counts as a phone number or SSN (``{"phone": "4155552671"}``).

Floats, booleans and ``None`` are not read. Findings carry offsets and paths, never matched
text, so a :class:`PayloadScan` can be logged. A payload over ``max_bytes`` (compact JSON),
nested deeper than :data:`MAX_DEPTH`, or not scanned within ``deadline_s`` is ``oversize``:
the policy must deny it or :func:`mask_all` it, and :func:`mask_payload` refuses it.

What each detector accepts and deliberately rejects is documented with it: ``pii_structured``
(e-mail, card, IBAN, SSN, IP), ``pii_phone``, ``pii_secrets`` and ``pii_keys`` (secrets),
``pii_ner`` with ``pii_name_context`` and ``pii_gazetteer`` (PERSON, LOCATION: a spaCy
model, context rules and GeoNames place names, only when a scan is asked for them,
``names=``); ``pii_text``
merges overlapping readings into one finding over their union, labelled with the most
specific reading.
"""

from policy_engine.domain.pii.mask import MASKED, mask_all, mask_payload, mask_text
from policy_engine.domain.pii.model import NAME_ENTITIES, Entity, Finding
from policy_engine.domain.pii.payload import (
    MAX_DEPTH,
    LocatedFinding,
    PayloadScan,
    StopReason,
    scan_payload,
)
from policy_engine.domain.pii.text import scan_text

__all__ = [
    "MASKED",
    "MAX_DEPTH",
    "NAME_ENTITIES",
    "Entity",
    "Finding",
    "LocatedFinding",
    "PayloadScan",
    "StopReason",
    "mask_all",
    "mask_payload",
    "mask_text",
    "scan_payload",
    "scan_text",
]
