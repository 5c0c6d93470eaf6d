# mypy: allow-any-generics
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyLayer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_LAYER_UNSPECIFIED: _ClassVar[PolicyLayer]
    POLICY_LAYER_ORG: _ClassVar[PolicyLayer]
    POLICY_LAYER_AGENCY: _ClassVar[PolicyLayer]
    POLICY_LAYER_TEAM: _ClassVar[PolicyLayer]
POLICY_LAYER_UNSPECIFIED: PolicyLayer
POLICY_LAYER_ORG: PolicyLayer
POLICY_LAYER_AGENCY: PolicyLayer
POLICY_LAYER_TEAM: PolicyLayer

class PolicyPublished(_message.Message):
    __slots__ = ("agency", "version", "content_hash", "author", "message", "layer", "team")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    agency: str
    version: int
    content_hash: str
    author: str
    message: str
    layer: PolicyLayer
    team: str
    def __init__(self, agency: _Optional[str] = ..., version: _Optional[int] = ..., content_hash: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., layer: _Optional[_Union[PolicyLayer, str]] = ..., team: _Optional[str] = ...) -> None: ...

class PolicyViolation(_message.Message):
    __slots__ = ("agency", "agent_id", "rule_id", "decision_id", "deployment_id", "action", "severity", "message", "remediation", "policy_version", "layer")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REMEDIATION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    agency: str
    agent_id: str
    rule_id: str
    decision_id: str
    deployment_id: str
    action: str
    severity: str
    message: str
    remediation: str
    policy_version: int
    layer: PolicyLayer
    def __init__(self, agency: _Optional[str] = ..., agent_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., deployment_id: _Optional[str] = ..., action: _Optional[str] = ..., severity: _Optional[str] = ..., message: _Optional[str] = ..., remediation: _Optional[str] = ..., policy_version: _Optional[int] = ..., layer: _Optional[_Union[PolicyLayer, str]] = ...) -> None: ...

class BudgetThresholdCrossed(_message.Message):
    __slots__ = ("agency", "agent_id", "scope", "period", "unit", "threshold", "used", "limit", "decision_id")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    agency: str
    agent_id: str
    scope: str
    period: str
    unit: str
    threshold: float
    used: float
    limit: float
    decision_id: str
    def __init__(self, agency: _Optional[str] = ..., agent_id: _Optional[str] = ..., scope: _Optional[str] = ..., period: _Optional[str] = ..., unit: _Optional[str] = ..., threshold: _Optional[float] = ..., used: _Optional[float] = ..., limit: _Optional[float] = ..., decision_id: _Optional[str] = ...) -> None: ...
