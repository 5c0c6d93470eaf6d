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

class ApprovalOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_OUTCOME_UNSPECIFIED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_GRANTED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_REJECTED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_EXPIRED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_SUPERSEDED: _ClassVar[ApprovalOutcome]
SUBJECT_KIND_UNSPECIFIED: SubjectKind
SUBJECT_KIND_DEPLOYMENT: SubjectKind
SUBJECT_KIND_DECISION: SubjectKind
APPROVAL_OUTCOME_UNSPECIFIED: ApprovalOutcome
APPROVAL_OUTCOME_GRANTED: ApprovalOutcome
APPROVAL_OUTCOME_REJECTED: ApprovalOutcome
APPROVAL_OUTCOME_EXPIRED: ApprovalOutcome
APPROVAL_OUTCOME_SUPERSEDED: ApprovalOutcome

class ApprovalRequested(_message.Message):
    __slots__ = ("approval_id", "agency", "subject_kind", "subject_id", "requested_by", "required_roles", "quorum", "expires_at", "risk_score", "summary")
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
    def __init__(self, approval_id: _Optional[str] = ..., agency: _Optional[str] = ..., subject_kind: _Optional[_Union[SubjectKind, str]] = ..., subject_id: _Optional[str] = ..., requested_by: _Optional[str] = ..., required_roles: _Optional[_Iterable[str]] = ..., quorum: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., risk_score: _Optional[float] = ..., summary: _Optional[str] = ...) -> None: ...

class ApprovalDecided(_message.Message):
    __slots__ = ("approval_id", "agency", "outcome", "decided_by", "decided_at", "reason", "subject_kind", "subject_id", "superseded_by")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    agency: str
    outcome: ApprovalOutcome
    decided_by: _containers.RepeatedScalarFieldContainer[str]
    decided_at: _timestamp_pb2.Timestamp
    reason: str
    subject_kind: SubjectKind
    subject_id: str
    superseded_by: str
    def __init__(self, approval_id: _Optional[str] = ..., agency: _Optional[str] = ..., outcome: _Optional[_Union[ApprovalOutcome, str]] = ..., decided_by: _Optional[_Iterable[str]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., subject_kind: _Optional[_Union[SubjectKind, str]] = ..., subject_id: _Optional[str] = ..., superseded_by: _Optional[str] = ...) -> None: ...
