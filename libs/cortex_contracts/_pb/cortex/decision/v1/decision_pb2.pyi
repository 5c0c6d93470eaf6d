# mypy: allow-any-generics
from cortex_contracts._pb.cortex.policy.v1 import policy_pb2 as _policy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_DENY: _ClassVar[Decision]
    DECISION_REQUIRE_APPROVAL: _ClassVar[Decision]
DECISION_UNSPECIFIED: Decision
DECISION_ALLOW: Decision
DECISION_DENY: Decision
DECISION_REQUIRE_APPROVAL: Decision

class Reason(_message.Message):
    __slots__ = ("code", "severity", "message", "remediation", "rule_id", "layer", "policy_version", "docs_url", "actual", "limit")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REMEDIATION_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCS_URL_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: str
    message: str
    remediation: str
    rule_id: str
    layer: _policy_pb2.PolicyLayer
    policy_version: int
    docs_url: str
    actual: str
    limit: str
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[str] = ..., message: _Optional[str] = ..., remediation: _Optional[str] = ..., rule_id: _Optional[str] = ..., layer: _Optional[_Union[_policy_pb2.PolicyLayer, str]] = ..., policy_version: _Optional[int] = ..., docs_url: _Optional[str] = ..., actual: _Optional[str] = ..., limit: _Optional[str] = ...) -> None: ...

class DecisionRecorded(_message.Message):
    __slots__ = ("decision_id", "agency", "agent_id", "action", "resource", "decision", "risk_score", "reasons", "policy_version", "evaluated_us", "approval_id", "effective_version")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_US_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    agency: str
    agent_id: str
    action: str
    resource: str
    decision: Decision
    risk_score: float
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    policy_version: int
    evaluated_us: int
    approval_id: str
    effective_version: str
    def __init__(self, decision_id: _Optional[str] = ..., agency: _Optional[str] = ..., agent_id: _Optional[str] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., risk_score: _Optional[float] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., policy_version: _Optional[int] = ..., evaluated_us: _Optional[int] = ..., approval_id: _Optional[str] = ..., effective_version: _Optional[str] = ...) -> None: ...
