from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResetRequest(_message.Message):
    __slots__ = ("session", "all")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    session: str
    all: bool
    def __init__(self, session: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sessions: _Optional[_Iterable[str]] = ...) -> None: ...

class AdvanceClockRequest(_message.Message):
    __slots__ = ("session", "duration", "millis")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    MILLIS_FIELD_NUMBER: _ClassVar[int]
    session: str
    duration: str
    millis: int
    def __init__(self, session: _Optional[str] = ..., duration: _Optional[str] = ..., millis: _Optional[int] = ...) -> None: ...

class GetClockRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class ClockResponse(_message.Message):
    __slots__ = ("now", "now_unix_ms", "mode", "pending_timers")
    NOW_FIELD_NUMBER: _ClassVar[int]
    NOW_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PENDING_TIMERS_FIELD_NUMBER: _ClassVar[int]
    now: str
    now_unix_ms: int
    mode: str
    pending_timers: int
    def __init__(self, now: _Optional[str] = ..., now_unix_ms: _Optional[int] = ..., mode: _Optional[str] = ..., pending_timers: _Optional[int] = ...) -> None: ...

class SetFaultsRequest(_message.Message):
    __slots__ = ("session", "rules_json", "rules", "append")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    APPEND_FIELD_NUMBER: _ClassVar[int]
    session: str
    rules_json: str
    rules: _containers.RepeatedScalarFieldContainer[str]
    append: bool
    def __init__(self, session: _Optional[str] = ..., rules_json: _Optional[str] = ..., rules: _Optional[_Iterable[str]] = ..., append: _Optional[bool] = ...) -> None: ...

class ClearFaultsRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class ListFaultsRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class FaultsResponse(_message.Message):
    __slots__ = ("rules", "rules_json")
    RULES_FIELD_NUMBER: _ClassVar[int]
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedScalarFieldContainer[str]
    rules_json: str
    def __init__(self, rules: _Optional[_Iterable[str]] = ..., rules_json: _Optional[str] = ...) -> None: ...

class LoadScenarioRequest(_message.Message):
    __slots__ = ("session", "yaml", "file_name", "replace")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    YAML_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    session: str
    yaml: str
    file_name: str
    replace: bool
    def __init__(self, session: _Optional[str] = ..., yaml: _Optional[str] = ..., file_name: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class LoadScenarioResponse(_message.Message):
    __slots__ = ("loaded", "total", "names")
    LOADED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    loaded: int
    total: int
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, loaded: _Optional[int] = ..., total: _Optional[int] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ("session", "method", "limit", "all_sessions")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ALL_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    session: str
    method: str
    limit: int
    all_sessions: bool
    def __init__(self, session: _Optional[str] = ..., method: _Optional[str] = ..., limit: _Optional[int] = ..., all_sessions: _Optional[bool] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("seq", "method", "session", "request_json", "code", "message", "time", "clock_time")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CLOCK_TIME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    method: str
    session: str
    request_json: str
    code: str
    message: str
    time: str
    clock_time: str
    def __init__(self, seq: _Optional[int] = ..., method: _Optional[str] = ..., session: _Optional[str] = ..., request_json: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., time: _Optional[str] = ..., clock_time: _Optional[str] = ...) -> None: ...

class ListCallsResponse(_message.Message):
    __slots__ = ("calls", "dropped")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[Call]
    dropped: int
    def __init__(self, calls: _Optional[_Iterable[_Union[Call, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...

class ClearCallsRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class ClearCallsResponse(_message.Message):
    __slots__ = ("cleared",)
    CLEARED_FIELD_NUMBER: _ClassVar[int]
    cleared: int
    def __init__(self, cleared: _Optional[int] = ...) -> None: ...

class ExportTranscriptRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class ExportTranscriptResponse(_message.Message):
    __slots__ = ("lines", "dropped")
    LINES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    dropped: int
    def __init__(self, lines: _Optional[_Iterable[str]] = ..., dropped: _Optional[int] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("session", "json")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    session: str
    json: str
    def __init__(self, session: _Optional[str] = ..., json: _Optional[str] = ...) -> None: ...

class RestoreResponse(_message.Message):
    __slots__ = ("jobs", "stopped", "networks", "volumes", "runtimes", "workflows_skipped", "workflows")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    jobs: int
    stopped: int
    networks: int
    volumes: int
    runtimes: int
    workflows_skipped: int
    workflows: int
    def __init__(self, jobs: _Optional[int] = ..., stopped: _Optional[int] = ..., networks: _Optional[int] = ..., volumes: _Optional[int] = ..., runtimes: _Optional[int] = ..., workflows_skipped: _Optional[int] = ..., workflows: _Optional[int] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("name", "jobs", "calls", "faults", "clock_mode", "now", "record_bytes", "log_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_MODE_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    RECORD_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    jobs: int
    calls: int
    faults: int
    clock_mode: str
    now: str
    record_bytes: int
    log_bytes: int
    def __init__(self, name: _Optional[str] = ..., jobs: _Optional[int] = ..., calls: _Optional[int] = ..., faults: _Optional[int] = ..., clock_mode: _Optional[str] = ..., now: _Optional[str] = ..., record_bytes: _Optional[int] = ..., log_bytes: _Optional[int] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[SessionInfo]
    def __init__(self, sessions: _Optional[_Iterable[_Union[SessionInfo, _Mapping]]] = ...) -> None: ...

class GetMemoryRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class SessionMemory(_message.Message):
    __slots__ = ("name", "jobs", "record_bytes", "log_bytes", "evicted_records")
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    RECORD_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    EVICTED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    jobs: int
    record_bytes: int
    log_bytes: int
    evicted_records: int
    def __init__(self, name: _Optional[str] = ..., jobs: _Optional[int] = ..., record_bytes: _Optional[int] = ..., log_bytes: _Optional[int] = ..., evicted_records: _Optional[int] = ...) -> None: ...

class MemoryResponse(_message.Message):
    __slots__ = ("budget_bytes", "used_bytes", "record_bytes", "log_bytes", "max_jobs", "evicted_logs", "evicted_log_bytes", "evicted_records", "refused_run_jobs", "pressed", "sessions", "resident_bytes")
    BUDGET_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECORD_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    EVICTED_LOGS_FIELD_NUMBER: _ClassVar[int]
    EVICTED_LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    EVICTED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_RUN_JOBS_FIELD_NUMBER: _ClassVar[int]
    PRESSED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    budget_bytes: int
    used_bytes: int
    record_bytes: int
    log_bytes: int
    max_jobs: int
    evicted_logs: int
    evicted_log_bytes: int
    evicted_records: int
    refused_run_jobs: int
    pressed: bool
    sessions: _containers.RepeatedCompositeFieldContainer[SessionMemory]
    resident_bytes: int
    def __init__(self, budget_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., record_bytes: _Optional[int] = ..., log_bytes: _Optional[int] = ..., max_jobs: _Optional[int] = ..., evicted_logs: _Optional[int] = ..., evicted_log_bytes: _Optional[int] = ..., evicted_records: _Optional[int] = ..., refused_run_jobs: _Optional[int] = ..., pressed: _Optional[bool] = ..., sessions: _Optional[_Iterable[_Union[SessionMemory, _Mapping]]] = ..., resident_bytes: _Optional[int] = ...) -> None: ...
