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

class RolloutStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATUS_UNSPECIFIED: _ClassVar[RolloutStatus]
    ROLLOUT_STATUS_SUCCEEDED: _ClassVar[RolloutStatus]
    ROLLOUT_STATUS_FAILED: _ClassVar[RolloutStatus]
    ROLLOUT_STATUS_ROLLED_BACK: _ClassVar[RolloutStatus]
    ROLLOUT_STATUS_ABORTED: _ClassVar[RolloutStatus]

class BatchVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_VERDICT_UNSPECIFIED: _ClassVar[BatchVerdict]
    BATCH_VERDICT_HEALTHY: _ClassVar[BatchVerdict]
    BATCH_VERDICT_UNHEALTHY: _ClassVar[BatchVerdict]
    BATCH_VERDICT_POLICY_VIOLATION: _ClassVar[BatchVerdict]

class RollbackTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLBACK_TRIGGER_UNSPECIFIED: _ClassVar[RollbackTrigger]
    ROLLBACK_TRIGGER_MANUAL: _ClassVar[RollbackTrigger]
    ROLLBACK_TRIGGER_HEALTH_GATE: _ClassVar[RollbackTrigger]
    ROLLBACK_TRIGGER_POLICY_VIOLATION: _ClassVar[RollbackTrigger]
    ROLLBACK_TRIGGER_WATCHDOG: _ClassVar[RollbackTrigger]
ROLLOUT_STATUS_UNSPECIFIED: RolloutStatus
ROLLOUT_STATUS_SUCCEEDED: RolloutStatus
ROLLOUT_STATUS_FAILED: RolloutStatus
ROLLOUT_STATUS_ROLLED_BACK: RolloutStatus
ROLLOUT_STATUS_ABORTED: RolloutStatus
BATCH_VERDICT_UNSPECIFIED: BatchVerdict
BATCH_VERDICT_HEALTHY: BatchVerdict
BATCH_VERDICT_UNHEALTHY: BatchVerdict
BATCH_VERDICT_POLICY_VIOLATION: BatchVerdict
ROLLBACK_TRIGGER_UNSPECIFIED: RollbackTrigger
ROLLBACK_TRIGGER_MANUAL: RollbackTrigger
ROLLBACK_TRIGGER_HEALTH_GATE: RollbackTrigger
ROLLBACK_TRIGGER_POLICY_VIOLATION: RollbackTrigger
ROLLBACK_TRIGGER_WATCHDOG: RollbackTrigger

class DeploymentStarted(_message.Message):
    __slots__ = ("deployment_id", "agency", "service", "environment", "actor", "started_at", "change_kind", "revision", "snapshot_id", "total_agents", "batch_count", "batch_size", "commit_shas", "labels", "decision_id", "approval_id")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_KIND_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHAS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    agency: str
    service: str
    environment: str
    actor: str
    started_at: _timestamp_pb2.Timestamp
    change_kind: str
    revision: str
    snapshot_id: str
    total_agents: int
    batch_count: int
    batch_size: int
    commit_shas: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedScalarFieldContainer[str]
    decision_id: str
    approval_id: str
    def __init__(self, deployment_id: _Optional[str] = ..., agency: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., actor: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., change_kind: _Optional[str] = ..., revision: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., total_agents: _Optional[int] = ..., batch_count: _Optional[int] = ..., batch_size: _Optional[int] = ..., commit_shas: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[str]] = ..., decision_id: _Optional[str] = ..., approval_id: _Optional[str] = ...) -> None: ...

class BatchCompleted(_message.Message):
    __slots__ = ("deployment_id", "agency", "service", "environment", "batch_index", "batch_count", "batch_size", "agent_ids", "agents_healthy", "agents_unhealthy", "verdict", "reason", "started_at", "finished_at")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    BATCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    BATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    AGENTS_HEALTHY_FIELD_NUMBER: _ClassVar[int]
    AGENTS_UNHEALTHY_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    agency: str
    service: str
    environment: str
    batch_index: int
    batch_count: int
    batch_size: int
    agent_ids: _containers.RepeatedScalarFieldContainer[str]
    agents_healthy: int
    agents_unhealthy: int
    verdict: BatchVerdict
    reason: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, deployment_id: _Optional[str] = ..., agency: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., batch_index: _Optional[int] = ..., batch_count: _Optional[int] = ..., batch_size: _Optional[int] = ..., agent_ids: _Optional[_Iterable[str]] = ..., agents_healthy: _Optional[int] = ..., agents_unhealthy: _Optional[int] = ..., verdict: _Optional[_Union[BatchVerdict, str]] = ..., reason: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeploymentFinished(_message.Message):
    __slots__ = ("deployment_id", "agency", "service", "environment", "status", "started_at", "finished_at", "total_agents", "batch_count", "batches_completed", "batch_size", "commit_shas", "labels", "actor", "reason", "revision", "change_kind", "created_at", "decision_id")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    BATCHES_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHAS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_KIND_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    agency: str
    service: str
    environment: str
    status: RolloutStatus
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    total_agents: int
    batch_count: int
    batches_completed: int
    batch_size: int
    commit_shas: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedScalarFieldContainer[str]
    actor: str
    reason: str
    revision: str
    change_kind: str
    created_at: _timestamp_pb2.Timestamp
    decision_id: str
    def __init__(self, deployment_id: _Optional[str] = ..., agency: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., status: _Optional[_Union[RolloutStatus, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total_agents: _Optional[int] = ..., batch_count: _Optional[int] = ..., batches_completed: _Optional[int] = ..., batch_size: _Optional[int] = ..., commit_shas: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., revision: _Optional[str] = ..., change_kind: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_id: _Optional[str] = ...) -> None: ...

class RolledBack(_message.Message):
    __slots__ = ("deployment_id", "agency", "service", "environment", "trigger", "actor", "reason", "snapshot_id", "agents_reverted", "started_at", "finished_at", "rule_id", "decision_id", "detected_at", "agents_total", "revision", "revert_started_at")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENTS_REVERTED_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    AGENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    REVERT_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    agency: str
    service: str
    environment: str
    trigger: RollbackTrigger
    actor: str
    reason: str
    snapshot_id: str
    agents_reverted: int
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    rule_id: str
    decision_id: str
    detected_at: _timestamp_pb2.Timestamp
    agents_total: int
    revision: str
    revert_started_at: _timestamp_pb2.Timestamp
    def __init__(self, deployment_id: _Optional[str] = ..., agency: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., trigger: _Optional[_Union[RollbackTrigger, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., agents_reverted: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rule_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., detected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agents_total: _Optional[int] = ..., revision: _Optional[str] = ..., revert_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeploymentTransitioned(_message.Message):
    __slots__ = ("deployment_id", "agency", "service", "environment", "from_status", "to_status", "event", "actor_kind", "actor", "reason_code", "reason", "batch_index", "at", "version")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_KIND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BATCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    agency: str
    service: str
    environment: str
    from_status: str
    to_status: str
    event: str
    actor_kind: str
    actor: str
    reason_code: str
    reason: str
    batch_index: int
    at: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, deployment_id: _Optional[str] = ..., agency: _Optional[str] = ..., service: _Optional[str] = ..., environment: _Optional[str] = ..., from_status: _Optional[str] = ..., to_status: _Optional[str] = ..., event: _Optional[str] = ..., actor_kind: _Optional[str] = ..., actor: _Optional[str] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., batch_index: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...
