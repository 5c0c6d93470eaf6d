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

class DeploymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPLOYMENT_STATUS_UNSPECIFIED: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_SUCCEEDED: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_FAILED: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_IN_PROGRESS: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_ROLLED_BACK: _ClassVar[DeploymentStatus]
    DEPLOYMENT_STATUS_CANCELLED: _ClassVar[DeploymentStatus]

class DeploymentSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPLOYMENT_SOURCE_UNSPECIFIED: _ClassVar[DeploymentSource]
    DEPLOYMENT_SOURCE_REST: _ClassVar[DeploymentSource]
    DEPLOYMENT_SOURCE_WEBHOOK: _ClassVar[DeploymentSource]
    DEPLOYMENT_SOURCE_ROLLOUT: _ClassVar[DeploymentSource]
DEPLOYMENT_STATUS_UNSPECIFIED: DeploymentStatus
DEPLOYMENT_STATUS_SUCCEEDED: DeploymentStatus
DEPLOYMENT_STATUS_FAILED: DeploymentStatus
DEPLOYMENT_STATUS_IN_PROGRESS: DeploymentStatus
DEPLOYMENT_STATUS_ROLLED_BACK: DeploymentStatus
DEPLOYMENT_STATUS_CANCELLED: DeploymentStatus
DEPLOYMENT_SOURCE_UNSPECIFIED: DeploymentSource
DEPLOYMENT_SOURCE_REST: DeploymentSource
DEPLOYMENT_SOURCE_WEBHOOK: DeploymentSource
DEPLOYMENT_SOURCE_ROLLOUT: DeploymentSource

class ChangeRecorded(_message.Message):
    __slots__ = ("event_id", "commit_sha", "repo", "service", "authored_at", "committed_at", "pr_id", "pr_opened_at", "pr_merged_at", "author")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHA_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    AUTHORED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    PR_ID_FIELD_NUMBER: _ClassVar[int]
    PR_OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    PR_MERGED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    commit_sha: str
    repo: str
    service: str
    authored_at: _timestamp_pb2.Timestamp
    committed_at: _timestamp_pb2.Timestamp
    pr_id: str
    pr_opened_at: _timestamp_pb2.Timestamp
    pr_merged_at: _timestamp_pb2.Timestamp
    author: str
    def __init__(self, event_id: _Optional[str] = ..., commit_sha: _Optional[str] = ..., repo: _Optional[str] = ..., service: _Optional[str] = ..., authored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., committed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pr_id: _Optional[str] = ..., pr_opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pr_merged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., author: _Optional[str] = ...) -> None: ...

class DeploymentRecorded(_message.Message):
    __slots__ = ("deployment_id", "service", "environment", "status", "started_at", "finished_at", "commit_shas", "labels", "fixes_incident", "rollback_of", "batch_size", "source", "head_commit", "ships_no_commits")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHAS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    FIXES_INCIDENT_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    HEAD_COMMIT_FIELD_NUMBER: _ClassVar[int]
    SHIPS_NO_COMMITS_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    service: str
    environment: str
    status: DeploymentStatus
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    commit_shas: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedScalarFieldContainer[str]
    fixes_incident: str
    rollback_of: str
    batch_size: int
    source: DeploymentSource
    head_commit: str
    ships_no_commits: bool
    def __init__(self, deployment_id: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., status: _Optional[_Union[DeploymentStatus, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., commit_shas: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[str]] = ..., fixes_incident: _Optional[str] = ..., rollback_of: _Optional[str] = ..., batch_size: _Optional[int] = ..., source: _Optional[_Union[DeploymentSource, str]] = ..., head_commit: _Optional[str] = ..., ships_no_commits: _Optional[bool] = ...) -> None: ...

class IncidentRecorded(_message.Message):
    __slots__ = ("incident_id", "service", "environment", "opened_at", "resolved_at", "severity", "caused_by_deployment", "caused_by_commit", "reopened_at", "reported_at")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CAUSED_BY_DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    CAUSED_BY_COMMIT_FIELD_NUMBER: _ClassVar[int]
    REOPENED_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    service: str
    environment: str
    opened_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    severity: str
    caused_by_deployment: str
    caused_by_commit: str
    reopened_at: _timestamp_pb2.Timestamp
    reported_at: _timestamp_pb2.Timestamp
    def __init__(self, incident_id: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[str] = ..., caused_by_deployment: _Optional[str] = ..., caused_by_commit: _Optional[str] = ..., reopened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeliveryEvent(_message.Message):
    __slots__ = ("change", "deployment", "incident")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    change: ChangeRecorded
    deployment: DeploymentRecorded
    incident: IncidentRecorded
    def __init__(self, change: _Optional[_Union[ChangeRecorded, _Mapping]] = ..., deployment: _Optional[_Union[DeploymentRecorded, _Mapping]] = ..., incident: _Optional[_Union[IncidentRecorded, _Mapping]] = ...) -> None: ...

class DeliveryBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[DeliveryEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[DeliveryEvent, _Mapping]]] = ...) -> None: ...
