"""The one mapping between protobuf enum names and the public words requests and answers use."""

from __future__ import annotations

import typing

import pytest
from google.protobuf.descriptor import EnumDescriptor

from cortex_contracts import (
    DeploymentRecorded,
    DeploymentSource,
    DeploymentStatus,
    PolicyLayer,
    SubjectKind,
)
from cortex_contracts.envelope import PAYLOAD_TYPES
from cortex_contracts.public import (
    enum_prefix,
    proto_name,
    public_fields,
    public_value,
    public_values,
)


def _every_enum() -> list[EnumDescriptor]:
    found: dict[str, EnumDescriptor] = {}
    for payload in PAYLOAD_TYPES.values():
        for field in payload.DESCRIPTOR.fields:
            if field.enum_type is not None:
                found[field.enum_type.full_name] = field.enum_type
    return [found[name] for name in sorted(found)]


ENUMS = _every_enum()


def test_a_value_loses_its_enum_prefix_and_its_capitals() -> None:
    assert public_value(DeploymentStatus.DESCRIPTOR, "DEPLOYMENT_STATUS_SUCCEEDED") == "succeeded"
    assert public_value(DeploymentStatus.DESCRIPTOR, "DEPLOYMENT_STATUS_ROLLED_BACK") == (
        "rolled_back"
    )
    assert public_value(DeploymentSource.DESCRIPTOR, "DEPLOYMENT_SOURCE_REST") == "rest"
    assert public_value(SubjectKind.DESCRIPTOR, "SUBJECT_KIND_DEPLOYMENT") == "deployment"
    assert enum_prefix(PolicyLayer.DESCRIPTOR) == "POLICY_LAYER_"


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.name)
def test_every_value_of_every_contract_enum_round_trips(enum: EnumDescriptor) -> None:
    assert ENUMS  # the payloads have enums: a walk that finds none would prove nothing
    for value in enum.values:
        word = public_value(enum, value.name)
        assert word == word.lower()
        assert proto_name(enum, word) == value.name


def test_an_unknown_name_or_word_is_refused() -> None:
    with pytest.raises(ValueError, match="not a value"):
        public_value(DeploymentStatus.DESCRIPTOR, "DEPLOYMENT_SOURCE_REST")
    with pytest.raises(ValueError, match="succeeded, failed"):
        proto_name(DeploymentStatus.DESCRIPTOR, "exploded")
    with pytest.raises(ValueError, match="is not one of"):
        proto_name(DeploymentStatus.DESCRIPTOR, "SUCCEEDED")


def test_stored_fields_answer_in_public_words_and_keep_the_rest() -> None:
    stored = {
        "deployment_id": "d1",
        "status": "DEPLOYMENT_STATUS_SUCCEEDED",
        "source": "DEPLOYMENT_SOURCE_WEBHOOK",
        "batch_size": 3,
        "note": "DEPLOYMENT_STATUS_FAILED",  # not a field of the payload: left alone
    }
    assert public_fields(DeploymentRecorded, stored) == {
        **stored,
        "status": "succeeded",
        "source": "webhook",
    }
    assert public_fields(DeploymentRecorded, {"status": 9}) == {"status": 9}


def test_the_events_request_vocabulary_is_the_contract_one() -> None:
    from gateway.events.schemas import DeploymentEvent

    status = typing.get_args(DeploymentEvent.model_fields["status"].annotation)
    assert list(status) == public_values(DeploymentStatus.DESCRIPTOR)
