"""PII and secrets in every field of an authorize request that can carry data.

Scanned: ``payload``, ``context`` and ``action.labels`` (every string, integer and key, as
:func:`~policy_engine.domain.pii.scan_payload` reads them), and every free-form string field —
``agent_id``, ``team``, ``deployment_id``, ``action.type``, ``action.resource``,
``action.model``, ``action.destination``. Not scanned: the fields whose values the schema
closes (``autonomy_level``, ``data_class``) and the estimates (bounded numbers).

The policy is evaluated on the raw request (a resource glob or a condition must see what the
agent will do); what is stored or published is :func:`stored_request`, :func:`stored_fields`
and :func:`stored_result`, where every detected entity is masked whatever the decision.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.decision import DecisionResult, Reason
from policy_engine.domain.document.schema import NAME_ENTITIES
from policy_engine.domain.pii import (
    Entity,
    Finding,
    LocatedFinding,
    PayloadScan,
    mask_all,
    mask_payload,
    mask_text,
    scan_payload,
)
from policy_engine.domain.pii.text import NO_NAMES, scan_text_under
from policy_engine.evaluation.schemas import AuthorizeRequest

ALL_ENTITIES = tuple(Entity)
MASKED_TEAM = "masked"
"""What a team slug that carried PII is stored as (``[EMAIL]`` is no slug; replays need one)."""
_LIMITS = {  # max_length of the schema: a stored request must validate again (simulation)
    "agent_id": 200,
    "deployment_id": 200,
    "action.type": 200,
    "action.resource": 1000,
    "action.model": 200,
    "action.destination": 1000,
}
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FieldFindings:
    """The findings in one free-form string field (``action.resource``), by offset."""

    field: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class RequestScan:
    """What every scanned field of one request contains (findings carry no matched text)."""

    payload: PayloadScan | None
    strings: tuple[FieldFindings, ...] = ()
    """String fields with findings only."""
    structured: PayloadScan | None = None
    """``{"action.labels": …, "context": …}`` (the non-empty ones), scanned as a payload."""
    entities: Mapping[str, int] = dataclasses.field(default_factory=lambda: _EMPTY)
    """Entity → values found, over every field."""
    fields: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=lambda: _EMPTY)
    """Entity → the fields it was found in."""
    oversize_fields: tuple[str, ...] = ()

    @property
    def oversize(self) -> bool:
        return bool(self.oversize_fields)

    @property
    def outside_payload(self) -> bool:
        """Something was found (or not fully scanned) outside ``payload``."""
        s = self.structured
        return bool(self.strings) or (s is not None and (bool(s.findings) or s.oversize))


def _string_fields(req: AuthorizeRequest) -> tuple[tuple[str, str | None], ...]:
    a = req.action
    return (
        ("agent_id", req.agent_id),
        ("team", req.team),
        ("deployment_id", req.deployment_id),
        ("action.type", a.type),
        ("action.resource", a.resource),
        ("action.model", a.model),
        ("action.destination", a.destination),
    )


def _structured(req: AuthorizeRequest) -> dict[str, Any] | None:
    labels, context = req.action.labels, req.context
    if not labels and not context:
        return None
    tree: dict[str, Any] = {}
    if labels:
        tree["action.labels"] = labels
    if context:
        tree["context"] = context
    return tree


def names_asked(compiled: CompiledPolicy) -> frozenset[Entity]:
    """PERSON / LOCATION where the effective policy masks or denies them (they are ``allow``
    unless named, so the language model runs for the policies that ask for it only)."""
    return frozenset(
        Entity(name) for name in NAME_ENTITIES if compiled.pii_action(name).value != "allow"
    )


def scan_request(
    req: AuthorizeRequest,
    *,
    max_bytes: int,
    deadline_s: float,
    with_payload: bool = True,
    names: frozenset[Entity] = NO_NAMES,
) -> RequestScan:
    """Scan every field that can carry data; ``max_bytes`` and ``deadline_s`` cap the payload
    and, separately, ``context`` with ``action.labels`` (each under its own deadline). With
    ``names`` (see :func:`names_asked`) the named-entity model reads them all too: it takes
    milliseconds per kilobyte, so call this off the event loop then."""
    payload = None
    if with_payload and req.payload is not None:
        payload = scan_payload(req.payload, max_bytes=max_bytes, deadline_s=deadline_s, names=names)
    strings = tuple(
        FieldFindings(name, tuple(found))
        for name, text in _string_fields(req)
        if text and (found := scan_text_under(text, "", names))
    )
    tree = _structured(req)
    structured = None
    if tree is not None:
        structured = scan_payload(tree, max_bytes=max_bytes, deadline_s=deadline_s, names=names)
    if not strings and _clean(structured) and _clean(payload):
        return RequestScan(payload, structured=structured)
    return _summarised(payload, strings, structured, tree)


def _clean(scan: PayloadScan | None) -> bool:
    return scan is None or not (scan.findings or scan.oversize)


def _summarised(
    payload: PayloadScan | None,
    strings: tuple[FieldFindings, ...],
    structured: PayloadScan | None,
    tree: dict[str, Any] | None,
) -> RequestScan:
    counts: dict[str, int] = {}
    fields: dict[str, list[str]] = {}

    def add(entity: Entity, field: str) -> None:
        counts[entity.value] = counts.get(entity.value, 0) + 1
        where = fields.setdefault(entity.value, [])
        if field not in where:
            where.append(field)

    for found in strings:
        for finding in found.findings:
            add(finding.entity, found.field)
    oversize: list[str] = []
    if structured is not None:
        for located in structured.findings:
            add(located.finding.entity, str(located.path[0]))
        if structured.oversize and tree is not None:
            oversize += list(tree)
    if payload is not None:
        for located in payload.findings:
            add(located.finding.entity, "payload")
        if payload.oversize:
            oversize.append("payload")
    return RequestScan(
        payload=payload,
        strings=strings,
        structured=structured,
        entities=MappingProxyType(counts),
        fields=MappingProxyType({e: tuple(sorted(f)) for e, f in fields.items()}),
        oversize_fields=tuple(sorted(oversize)),
    )


def _fit(text: str, field: str) -> str:
    limit = _LIMITS.get(field)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def _masked_strings(req: AuthorizeRequest, scan: RequestScan) -> dict[str, str]:
    """Field → its stored text, for the string fields with findings."""
    texts = dict(_string_fields(req))
    out: dict[str, str] = {}
    for found in scan.strings:
        text = texts[found.field]
        assert text is not None  # only fields with text have findings
        if found.field == "team":
            out["team"] = MASKED_TEAM
        else:
            out[found.field] = _fit(mask_text(text, found.findings), found.field)
    return out


def _masked_structured(req: AuthorizeRequest, scan: RequestScan) -> dict[str, Any]:
    tree, structured = _structured(req), scan.structured
    if tree is None or structured is None or not (structured.findings or structured.oversize):
        return {}
    masked = mask_all(tree) if structured.oversize else mask_payload(tree, structured, ALL_ENTITIES)
    assert isinstance(masked, dict)
    return masked


def stored_payload(payload: Any, scan: PayloadScan | None) -> Any:
    """The payload as stored: every detected entity masked (all of it when not fully scanned)."""
    if scan is None:
        return None
    if scan.oversize:
        return mask_all(payload)
    return mask_payload(payload, scan, ALL_ENTITIES) if scan.findings else payload


def answered_payload(payload: Any, scan: PayloadScan | None, result: DecisionResult) -> Any:
    """``masked_payload`` of the answer: what the policy masks; for a deny, every entity found
    (a refused payload is not to be used, and its answer must not echo raw PII either)."""
    if scan is None:
        return None
    if result.mask_all:
        return mask_all(payload)
    if scan.oversize:  # partial findings never pass for a full mask; the policy decided above
        return None
    if result.decision == "deny":
        return mask_payload(payload, scan, ALL_ENTITIES) if scan.findings else None
    if result.masked_entities:
        return mask_payload(payload, scan, [Entity(e) for e in result.masked_entities])
    return None


def stored_request(req: AuthorizeRequest, scan: RequestScan, payload: Any) -> dict[str, Any]:
    """The request as the decision log keeps it: every detected entity masked in every field."""
    stored = req.model_dump(mode="json", exclude={"payload"})
    stored["payload"] = payload
    if not scan.outside_payload:
        return stored
    action = stored["action"]
    for field, text in _masked_strings(req, scan).items():
        if field.startswith("action."):
            action[field.removeprefix("action.")] = text
        else:
            stored[field] = text
    masked = _masked_structured(req, scan)
    if "action.labels" in masked:
        action["labels"] = masked["action.labels"]
    if "context" in masked:
        stored["context"] = masked["context"]
    return stored


@dataclass(frozen=True, slots=True)
class StoredFields:
    """The request fields the decision log keeps in columns and events, masked."""

    agent_id: str
    action_type: str
    resource: str
    deployment_id: str | None


def stored_fields(req: AuthorizeRequest, scan: RequestScan) -> StoredFields:
    a = req.action
    if not scan.strings:
        return StoredFields(req.agent_id, a.type, a.resource, req.deployment_id)
    masked = _masked_strings(req, scan)
    return StoredFields(
        agent_id=masked.get("agent_id", req.agent_id),
        action_type=masked.get("action.type", a.type),
        resource=masked.get("action.resource", a.resource),
        deployment_id=masked.get("deployment_id", req.deployment_id),
    )


def _at(tree: Any, located: LocatedFinding) -> str | None:
    """The text a finding of ``tree``'s scan is in (a key or a value)."""
    node = tree
    for i, step in enumerate(located.path):
        if isinstance(node, dict):
            key = list(node)[step] if isinstance(step, int) else step
            if located.in_key and i == len(located.path) - 1:
                return str(key)
            node = node[key]
        elif isinstance(node, list | tuple) and isinstance(step, int):
            node = node[step]
        else:
            return None
    if isinstance(node, str):
        return node
    return str(node) if isinstance(node, int) and not isinstance(node, bool) else None


def _raw_values(req: AuthorizeRequest, scan: RequestScan) -> list[tuple[str, str]]:
    """(raw text, its mask) of every finding outside the payload, longest first."""
    found: dict[str, str] = {}
    texts = dict(_string_fields(req))
    for field in scan.strings:
        text = texts[field.field] or ""
        for f in field.findings:
            found[text[f.start : f.end]] = f"[{f.entity.value}]"
    tree, structured = _structured(req), scan.structured
    if tree is not None and structured is not None:
        for located in structured.findings:
            within = _at(tree, located)
            f = located.finding
            if within is not None and f.end <= len(within):
                found[within[f.start : f.end]] = f"[{f.entity.value}]"
    return sorted(found.items(), key=lambda item: -len(item[0]))


def _redacted(value: Any, raw: list[tuple[str, str]]) -> Any:
    if not isinstance(value, str):
        return value
    for text, mask in raw:
        if text and text in value:
            value = value.replace(text, mask)
    return value


def stored_result(
    req: AuthorizeRequest, scan: RequestScan, result: DecisionResult
) -> DecisionResult:
    """The result as stored and published: reasons may quote request fields (an action type,
    a model, an evaluation error over ``context``); what was detected in them is masked."""
    if not scan.outside_payload:
        return result
    raw = _raw_values(req, scan)  # of a partial scan too: what it did find is masked
    if not raw:
        return result
    return result._replace(reasons=tuple(_redacted_reason(r, raw) for r in result.reasons))


def _redacted_reason(reason: Reason, raw: list[tuple[str, str]]) -> Reason:
    return reason._replace(
        message=_redacted(reason.message, raw),
        remediation=_redacted(reason.remediation, raw),
        counterfactual=_redacted(reason.counterfactual, raw),
        actual=_redacted(reason.actual, raw),
        limit=_redacted(reason.limit, raw),
    )


__all__ = [
    "RequestScan",
    "StoredFields",
    "answered_payload",
    "names_asked",
    "scan_request",
    "stored_fields",
    "stored_payload",
    "stored_request",
    "stored_result",
]
