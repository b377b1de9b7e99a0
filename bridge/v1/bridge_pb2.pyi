import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_KIND_UNSPECIFIED: _ClassVar[JobKind]
    JOB_KIND_TWIN: _ClassVar[JobKind]
    JOB_KIND_PLAN: _ClassVar[JobKind]
    JOB_KIND_RENDER: _ClassVar[JobKind]
    JOB_KIND_EDIT: _ClassVar[JobKind]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_AWAITING_CONFIRMATION: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
JOB_KIND_UNSPECIFIED: JobKind
JOB_KIND_TWIN: JobKind
JOB_KIND_PLAN: JobKind
JOB_KIND_RENDER: JobKind
JOB_KIND_EDIT: JobKind
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_AWAITING_CONFIRMATION: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class Rate(_message.Message):
    __slots__ = ("num", "den")
    NUM_FIELD_NUMBER: _ClassVar[int]
    DEN_FIELD_NUMBER: _ClassVar[int]
    num: int
    den: int
    def __init__(self, num: _Optional[int] = ..., den: _Optional[int] = ...) -> None: ...

class FrameRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class MediaRef(_message.Message):
    __slots__ = ("path", "range", "rate", "timecode", "handles", "range_text")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    TIMECODE_FIELD_NUMBER: _ClassVar[int]
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    RANGE_TEXT_FIELD_NUMBER: _ClassVar[int]
    path: str
    range: FrameRange
    rate: Rate
    timecode: str
    handles: int
    range_text: str
    def __init__(self, path: _Optional[str] = ..., range: _Optional[_Union[FrameRange, _Mapping]] = ..., rate: _Optional[_Union[Rate, _Mapping]] = ..., timecode: _Optional[str] = ..., handles: _Optional[int] = ..., range_text: _Optional[str] = ...) -> None: ...

class Targets(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[_Iterable[str]] = ...) -> None: ...

class RenderOptions(_message.Message):
    __slots__ = ("seed", "steps", "guidance_scale", "conditioning_scale", "window", "overlap", "no_matte", "no_preview", "no_sheet")
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONING_SCALE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    NO_MATTE_FIELD_NUMBER: _ClassVar[int]
    NO_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    NO_SHEET_FIELD_NUMBER: _ClassVar[int]
    seed: int
    steps: int
    guidance_scale: float
    conditioning_scale: float
    window: int
    overlap: int
    no_matte: bool
    no_preview: bool
    no_sheet: bool
    def __init__(self, seed: _Optional[int] = ..., steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., conditioning_scale: _Optional[float] = ..., window: _Optional[int] = ..., overlap: _Optional[int] = ..., no_matte: _Optional[bool] = ..., no_preview: _Optional[bool] = ..., no_sheet: _Optional[bool] = ...) -> None: ...

class EditSpec(_message.Message):
    __slots__ = ("kind", "media", "query", "targets", "plan_json", "op", "prompt", "remove", "color", "profile", "format", "output", "overwrite", "confirm", "render", "host_context", "name", "deliver")
    class HostContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    HOST_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELIVER_FIELD_NUMBER: _ClassVar[int]
    kind: JobKind
    media: MediaRef
    query: str
    targets: Targets
    plan_json: str
    op: str
    prompt: str
    remove: bool
    color: str
    profile: str
    format: str
    output: str
    overwrite: bool
    confirm: bool
    render: RenderOptions
    host_context: _containers.ScalarMap[str, str]
    name: str
    deliver: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[JobKind, str]] = ..., media: _Optional[_Union[MediaRef, _Mapping]] = ..., query: _Optional[str] = ..., targets: _Optional[_Union[Targets, _Mapping]] = ..., plan_json: _Optional[str] = ..., op: _Optional[str] = ..., prompt: _Optional[str] = ..., remove: _Optional[bool] = ..., color: _Optional[str] = ..., profile: _Optional[str] = ..., format: _Optional[str] = ..., output: _Optional[str] = ..., overwrite: _Optional[bool] = ..., confirm: _Optional[bool] = ..., render: _Optional[_Union[RenderOptions, _Mapping]] = ..., host_context: _Optional[_Mapping[str, str]] = ..., name: _Optional[str] = ..., deliver: _Optional[_Iterable[str]] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "done", "total", "unit")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    unit: str
    def __init__(self, stage: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., unit: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("kind", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Results(_message.Message):
    __slots__ = ("output_dir", "media", "matte_dir", "matte_movie", "preview", "contact_sheet", "provenance", "twin", "plan", "frames", "timecode", "qc_passed", "qc_flags", "summary_json")
    OUTPUT_DIR_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    MATTE_DIR_FIELD_NUMBER: _ClassVar[int]
    MATTE_MOVIE_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    CONTACT_SHEET_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    TWIN_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    TIMECODE_FIELD_NUMBER: _ClassVar[int]
    QC_PASSED_FIELD_NUMBER: _ClassVar[int]
    QC_FLAGS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    output_dir: str
    media: str
    matte_dir: str
    matte_movie: str
    preview: str
    contact_sheet: str
    provenance: str
    twin: str
    plan: str
    frames: int
    timecode: str
    qc_passed: bool
    qc_flags: _containers.RepeatedScalarFieldContainer[str]
    summary_json: str
    def __init__(self, output_dir: _Optional[str] = ..., media: _Optional[str] = ..., matte_dir: _Optional[str] = ..., matte_movie: _Optional[str] = ..., preview: _Optional[str] = ..., contact_sheet: _Optional[str] = ..., provenance: _Optional[str] = ..., twin: _Optional[str] = ..., plan: _Optional[str] = ..., frames: _Optional[int] = ..., timecode: _Optional[str] = ..., qc_passed: _Optional[bool] = ..., qc_flags: _Optional[_Iterable[str]] = ..., summary_json: _Optional[str] = ...) -> None: ...

class TargetPreview(_message.Message):
    __slots__ = ("id", "category", "attributes", "frames")
    ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    id: int
    category: str
    attributes: str
    frames: _containers.RepeatedCompositeFieldContainer[FrameRange]
    def __init__(self, id: _Optional[int] = ..., category: _Optional[str] = ..., attributes: _Optional[str] = ..., frames: _Optional[_Iterable[_Union[FrameRange, _Mapping]]] = ...) -> None: ...

class PlanPreview(_message.Message):
    __slots__ = ("plan_json", "explanation", "targets", "preview_image", "confirmed", "objects", "overlay_frames", "overlay_frame_numbers", "overlay_masks")
    PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_IMAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_FRAMES_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_FRAME_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_MASKS_FIELD_NUMBER: _ClassVar[int]
    plan_json: str
    explanation: str
    targets: _containers.RepeatedCompositeFieldContainer[TargetPreview]
    preview_image: str
    confirmed: bool
    objects: _containers.RepeatedCompositeFieldContainer[TargetPreview]
    overlay_frames: str
    overlay_frame_numbers: _containers.RepeatedScalarFieldContainer[int]
    overlay_masks: str
    def __init__(self, plan_json: _Optional[str] = ..., explanation: _Optional[str] = ..., targets: _Optional[_Iterable[_Union[TargetPreview, _Mapping]]] = ..., preview_image: _Optional[str] = ..., confirmed: _Optional[bool] = ..., objects: _Optional[_Iterable[_Union[TargetPreview, _Mapping]]] = ..., overlay_frames: _Optional[str] = ..., overlay_frame_numbers: _Optional[_Iterable[int]] = ..., overlay_masks: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "request_id", "batch_id", "kind", "state", "spec", "create_time", "update_time", "start_time", "end_time", "progress", "last_seq", "error", "results", "plan", "queue_position")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    batch_id: str
    kind: JobKind
    state: JobState
    spec: EditSpec
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    progress: Progress
    last_seq: int
    error: JobError
    results: Results
    plan: PlanPreview
    queue_position: int
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., kind: _Optional[_Union[JobKind, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., spec: _Optional[_Union[EditSpec, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., last_seq: _Optional[int] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., results: _Optional[_Union[Results, _Mapping]] = ..., plan: _Optional[_Union[PlanPreview, _Mapping]] = ..., queue_position: _Optional[int] = ...) -> None: ...

class StateChange(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    message: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "seq", "time", "state", "progress", "message", "plan", "results", "error")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    seq: int
    time: _timestamp_pb2.Timestamp
    state: StateChange
    progress: Progress
    message: str
    plan: PlanPreview
    results: Results
    error: JobError
    def __init__(self, job_id: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[StateChange, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., message: _Optional[str] = ..., plan: _Optional[_Union[PlanPreview, _Mapping]] = ..., results: _Optional[_Union[Results, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Capabilities(_message.Message):
    __slots__ = ("server_version", "api_version", "profiles", "default_profile", "models", "formats", "ops", "kinds", "media_roots", "output_root", "max_queue", "ready", "pid", "deliverables")
    class ModelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    OPS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ROOTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ROOT_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    DELIVERABLES_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    api_version: str
    profiles: _containers.RepeatedScalarFieldContainer[str]
    default_profile: str
    models: _containers.ScalarMap[str, str]
    formats: _containers.RepeatedScalarFieldContainer[str]
    ops: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[JobKind]
    media_roots: _containers.RepeatedScalarFieldContainer[str]
    output_root: str
    max_queue: int
    ready: bool
    pid: int
    deliverables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_version: _Optional[str] = ..., api_version: _Optional[str] = ..., profiles: _Optional[_Iterable[str]] = ..., default_profile: _Optional[str] = ..., models: _Optional[_Mapping[str, str]] = ..., formats: _Optional[_Iterable[str]] = ..., ops: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[JobKind, str]]] = ..., media_roots: _Optional[_Iterable[str]] = ..., output_root: _Optional[str] = ..., max_queue: _Optional[int] = ..., ready: _Optional[bool] = ..., pid: _Optional[int] = ..., deliverables: _Optional[_Iterable[str]] = ...) -> None: ...

class SubmitEditRequest(_message.Message):
    __slots__ = ("request_id", "spec")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    spec: EditSpec
    def __init__(self, request_id: _Optional[str] = ..., spec: _Optional[_Union[EditSpec, _Mapping]] = ...) -> None: ...

class SubmitBatchRequest(_message.Message):
    __slots__ = ("batch_id", "edits")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    edits: _containers.RepeatedCompositeFieldContainer[SubmitEditRequest]
    def __init__(self, batch_id: _Optional[str] = ..., edits: _Optional[_Iterable[_Union[SubmitEditRequest, _Mapping]]] = ...) -> None: ...

class SubmitBatchResponse(_message.Message):
    __slots__ = ("batch_id", "jobs")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, batch_id: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("states", "kind", "batch_id", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[JobState]
    kind: JobKind
    batch_id: str
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[JobState, str]]] = ..., kind: _Optional[_Union[JobKind, str]] = ..., batch_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "after_seq")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_seq: int
    def __init__(self, job_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WaitJobRequest(_message.Message):
    __slots__ = ("job_id", "timeout_ms")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timeout_ms: int
    def __init__(self, job_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_id", "delete_outputs")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DELETE_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    delete_outputs: bool
    def __init__(self, job_id: _Optional[str] = ..., delete_outputs: _Optional[bool] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("job_id", "outputs_deleted")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_DELETED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    outputs_deleted: bool
    def __init__(self, job_id: _Optional[str] = ..., outputs_deleted: _Optional[bool] = ...) -> None: ...

class ConfirmPlanRequest(_message.Message):
    __slots__ = ("job_id", "plan_json")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    plan_json: str
    def __init__(self, job_id: _Optional[str] = ..., plan_json: _Optional[str] = ...) -> None: ...
