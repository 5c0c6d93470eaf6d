"""Decoding approval.requested at the consumer's edge: what cannot be a request is Undecodable
(a dead letter with its reason); this service's own announcements are skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from approval_workflow.approvals.consumers import requested_consumer
from approval_workflow.approvals.staging import Staging
from approval_workflow.models import messaging
from approval_workflow.notifications.service import Notifier
from approval_workflow.settings import Settings
from cortex_contracts import ApprovalRequested, PolicyPublished, SubjectKind, encode, pack
from cortex_kit.messaging.handlers import Undecodable
from cortex_kit.testing.handlers import received

SPEC = requested_consumer(
    Settings.model_construct(),
    Staging(messaging.outbox, Notifier(None)),
    separation="requester",
    default_expiry=timedelta(hours=24),
    clock=lambda: datetime.now(UTC),
)


def payload(**fields: object) -> ApprovalRequested:
    base: dict[str, object] = {
        "approval_id": "apr-1",
        "agency": "acme",
        "subject_kind": SubjectKind.SUBJECT_KIND_DEPLOYMENT,
        "subject_id": "dep-1",
        "requested_by": "ci",
        "required_roles": ["sre"],
        "quorum": 2,
        "input_hash": "sha256:" + "ab" * 32,
    }
    return ApprovalRequested(**{**base, **fields})  # type: ignore[arg-type]


def data(message: object, source: str = "policy-engine") -> bytes:
    return encode(pack(message, agency="acme", source=source))  # type: ignore[arg-type]


def test_a_request_decodes_with_its_rules() -> None:
    new = received(SPEC, data(payload(escalate_after_s=600, escalate_to="oncall"))).payload.new
    assert new is not None
    assert (new.id, new.subject.kind, new.quorum) == ("apr-1", "deployment", 2)
    assert new.escalate_after == timedelta(seconds=600)
    assert new.separation == "requester"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"approval_id": ""}, "approval_id is empty"),
        ({"input_hash": ""}, "input_hash is empty"),
        ({"subject_kind": SubjectKind.SUBJECT_KIND_UNSPECIFIED}, "unknown subject_kind"),
        ({"quorum": 0}, "quorum 0"),
        ({"required_roles": [f"r{n}" for n in range(21)]}, "more than 20"),
        ({"subject_id": "dep\n1"}, "subject_id"),
        ({"summary": "nul\x00"}, "NUL"),
    ],
)
def test_what_cannot_be_a_request_is_undecodable(fields: dict[str, object], why: str) -> None:
    with pytest.raises(Undecodable, match=why):
        received(SPEC, data(payload(**fields)))


def test_another_event_type_or_garbage_is_undecodable() -> None:
    with pytest.raises(Undecodable):
        received(SPEC, data(PolicyPublished(agency="acme", version=1)))
    with pytest.raises(Undecodable):
        received(SPEC, b"\xff\x00garbage")


def test_this_services_own_announcement_is_skipped() -> None:
    assert received(SPEC, data(payload(), source="approval-workflow")).payload.new is None
