from __future__ import annotations

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cortex_contracts import (
    DLQ_STREAM,
    DOMAINS,
    EVENT_ROUTES,
    STREAMS,
    ApprovalRequested,
    ChangeRecorded,
    UnknownEventType,
    dlq_subject,
    stream_for,
    subject,
    subject_filter,
    subject_for,
)

BAD_AGENCIES = [
    "",
    "Acme",
    "acme.corp",
    "*",
    ">",
    "acme*",
    "acme>",
    "-acme",
    "acme corp",
    "acme_corp",
    "acme\n",
    "a" * 64,
]


def test_subject_is_prefix_domain_event_agency() -> None:
    assert subject("delivery", "change", "acme") == "cortex.delivery.change.acme"


@pytest.mark.parametrize("agency", ["a", "0-team", "acme-2", "a" * 63])
def test_subject_accepts_slug_agencies(agency: str) -> None:
    assert subject("policy", "published", agency).endswith(f".{agency}")


@pytest.mark.parametrize("agency", BAD_AGENCIES)
def test_subject_rejects_an_agency_that_is_not_a_slug(agency: str) -> None:
    with pytest.raises(ValueError, match="invalid agency"):
        subject("delivery", "change", agency)


@pytest.mark.parametrize("event", ["", "Change", "change.made", "1change", "*", ">", "re-deploy"])
def test_subject_rejects_an_invalid_event_name(event: str) -> None:
    with pytest.raises(ValueError, match="invalid event name"):
        subject("delivery", event, "acme")


@pytest.mark.parametrize("domain", ["dlq", "billing", "Delivery", "*"])
def test_subject_rejects_an_unknown_domain(domain: str) -> None:
    with pytest.raises(ValueError, match="unknown domain"):
        subject(domain, "change", "acme")


def test_subject_for_uses_the_route_of_the_payload() -> None:
    assert subject_for(ApprovalRequested(), "acme") == "cortex.approval.requested.acme"
    assert subject_for(ChangeRecorded(), "acme") == "cortex.delivery.change.acme"


def test_subject_for_rejects_an_unregistered_payload() -> None:
    with pytest.raises(UnknownEventType):
        subject_for(Timestamp(), "acme")


def test_subject_for_validates_the_agency() -> None:
    with pytest.raises(ValueError, match="invalid agency"):
        subject_for(ChangeRecorded(), "acme.>")


def test_no_two_payloads_share_a_route() -> None:
    assert len(set(EVENT_ROUTES.values())) == len(EVENT_ROUTES)


@pytest.mark.parametrize("payload_cls", list(EVENT_ROUTES), ids=lambda cls: cls.__name__)
def test_every_registered_payload_maps_to_its_domain_stream(payload_cls: type[Message]) -> None:
    published_on = subject_for(payload_cls(), "acme")

    stream = stream_for(published_on)

    assert stream.name == f"CORTEX_{EVENT_ROUTES[payload_cls].domain.upper()}"
    assert stream_for(dlq_subject(published_on)) == DLQ_STREAM


def test_every_domain_has_exactly_one_stream_plus_the_dead_letter_stream() -> None:
    names = [stream.name for stream in STREAMS]

    assert sorted(names) == sorted([f"CORTEX_{d.upper()}" for d in DOMAINS] + ["CORTEX_DLQ"])


def test_stream_subjects_do_not_overlap() -> None:
    # JetStream refuses to create a stream whose subjects overlap another stream's.
    prefixes = [pattern.removesuffix(">") for s in STREAMS for pattern in s.subjects]

    assert all(p.endswith(".") for p in prefixes)
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a)]


def test_streams_keep_messages_longer_than_their_duplicate_window() -> None:
    assert all(s.max_age_s > s.duplicate_window_s > 0 for s in STREAMS)


def test_stream_for_rejects_a_subject_no_stream_captures() -> None:
    with pytest.raises(LookupError):
        stream_for("other.delivery.change.acme")


def test_subject_filter_matches_any_omitted_token() -> None:
    assert subject_filter("approval") == "cortex.approval.*.*"
    assert subject_filter("approval", "requested") == "cortex.approval.requested.*"
    assert subject_filter("approval", agency="acme") == "cortex.approval.*.acme"


def test_subject_filter_validates_given_tokens() -> None:
    with pytest.raises(ValueError, match="invalid agency"):
        subject_filter("approval", "requested", "ACME")


def test_dlq_subject_keeps_the_original_route() -> None:
    assert dlq_subject("cortex.deploy.started.acme") == "cortex.dlq.deploy.started.acme"


@pytest.mark.parametrize("original", ["nats.deploy.started.acme", "cortex", "cortex.dlq.x.y.z"])
def test_dlq_subject_rejects_a_non_event_subject(original: str) -> None:
    with pytest.raises(ValueError, match="not a cortex event subject"):
        dlq_subject(original)
