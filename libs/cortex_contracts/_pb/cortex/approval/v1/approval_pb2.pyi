# mypy: allow-any-generics
import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubjectKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBJECT_KIND_UNSPECIFIED: _ClassVar[SubjectKind]
    SUBJECT_KIND_DEPLOYMENT: _ClassVar[SubjectKind]
    SUBJECT_KIND_DECISION: _ClassVar[SubjectKind]
    SUBJECT_KIND_ACTION: _ClassVar[SubjectKind]

class ApprovalOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_OUTCOME_UNSPECIFIED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_GRANTED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_REJECTED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_EXPIRED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_SUPERSEDED: _ClassVar[ApprovalOutcome]

class Separation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEPARATION_UNSPECIFIED: _ClassVar[Separation]
    SEPARATION_REQUESTER: _ClassVar[Separation]
    SEPARATION_TEAM: _ClassVar[Separation]
SUBJECT_KIND_UNSPECIFIED: SubjectKind
SUBJECT_KIND_DEPLOYMENT: SubjectKind
SUBJECT_KIND_DECISION: SubjectKind
SUBJECT_KIND_ACTION: SubjectKind
APPROVAL_OUTCOME_UNSPECIFIED: ApprovalOutcome
APPROVAL_OUTCOME_GRANTED: ApprovalOutcome
APPROVAL_OUTCOME_REJECTED: ApprovalOutcome
APPROVAL_OUTCOME_EXPIRED: ApprovalOutcome
APPROVAL_OUTCOME_SUPERSEDED: ApprovalOutcome
SEPARATION_UNSPECIFIED: Separation
SEPARATION_REQUESTER: Separation
SEPARATION_TEAM: Separation

class ApprovalRequested(_message.Message):
    __slots__ = ("approval_id", "agency", "subject_kind", "subject_id", "requested_by", "required_roles", "quorum", "expires_at", "risk_score", "summary", "input_hash", "escalate_after_s", "escalate_to", "reason", "rule_ids", "policy_version", "requested_at", "requester_team", "separation")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_ROLES_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    ESCALATE_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    ESCALATE_TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_TEAM_FIELD_NUMBER: _ClassVar[int]
    SEPARATION_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    agency: str
    subject_kind: SubjectKind
    subject_id: str
    requested_by: str
    required_roles: _containers.RepeatedScalarFieldContainer[str]
    quorum: int
    expires_at: _timestamp_pb2.Timestamp
    risk_score: float
    summary: str
    input_hash: str
    escalate_after_s: int
    escalate_to: str
    reason: str
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    policy_version: str
    requested_at: _timestamp_pb2.Timestamp
    requester_team: str
    separation: Separation
    def __init__(self, approval_id: _Optional[str] = ..., agency: _Optional[str] = ..., subject_kind: _Optional[_Union[SubjectKind, str]] = ..., subject_id: _Optional[str] = ..., requested_by: _Optional[str] = ..., required_roles: _Optional[_Iterable[str]] = ..., quorum: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., risk_score: _Optional[float] = ..., summary: _Optional[str] = ..., input_hash: _Optional[str] = ..., escalate_after_s: _Optional[int] = ..., escalate_to: _Optional[str] = ..., reason: _Optional[str] = ..., rule_ids: _Optional[_Iterable[str]] = ..., policy_version: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requester_team: _Optional[str] = ..., separation: _Optional[_Union[Separation, str]] = ...) -> None: ...

class ApprovalDecided(_message.Message):
    __slots__ = ("approval_id", "agency", "outcome", "decided_by", "decided_at", "reason", "subject_kind", "subject_id", "superseded_by", "requested_at", "queue_seconds", "input_hash")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    agency: str
    outcome: ApprovalOutcome
    decided_by: _containers.RepeatedScalarFieldContainer[str]
    decided_at: _timestamp_pb2.Timestamp
    reason: str
    subject_kind: SubjectKind
    subject_id: str
    superseded_by: str
    requested_at: _timestamp_pb2.Timestamp
    queue_seconds: float
    input_hash: str
    def __init__(self, approval_id: _Optional[str] = ..., agency: _Optional[str] = ..., outcome: _Optional[_Union[ApprovalOutcome, str]] = ..., decided_by: _Optional[_Iterable[str]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., subject_kind: _Optional[_Union[SubjectKind, str]] = ..., subject_id: _Optional[str] = ..., superseded_by: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., queue_seconds: _Optional[float] = ..., input_hash: _Optional[str] = ...) -> None: ...

class ApprovalEscalated(_message.Message):
    __slots__ = ("approval_id", "agency", "subject_kind", "subject_id", "escalate_to", "requested_at", "escalated_at", "expires_at", "required_roles", "quorum", "approvals", "summary")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ESCALATE_TO_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_ROLES_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    agency: str
    subject_kind: SubjectKind
    subject_id: str
    escalate_to: str
    requested_at: _timestamp_pb2.Timestamp
    escalated_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    required_roles: _containers.RepeatedScalarFieldContainer[str]
    quorum: int
    approvals: int
    summary: str
    def __init__(self, approval_id: _Optional[str] = ..., agency: _Optional[str] = ..., subject_kind: _Optional[_Union[SubjectKind, str]] = ..., subject_id: _Optional[str] = ..., escalate_to: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., escalated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., required_roles: _Optional[_Iterable[str]] = ..., quorum: _Optional[int] = ..., approvals: _Optional[int] = ..., summary: _Optional[str] = ...) -> None: ...
