"""Job definitions as the controller stores them and the original service's wire shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="letters, digits, '-', '_', '.'; at most 100",
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=100)]
JobType = Literal["consumer", "producer"]
JobState = Literal["stopped", "active", "deprecated", "archived"]
Backoff = Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600 * 1000)]
ProcessingTime = Annotated[int, msgspec.Meta(ge=1, le=7 * 24 * 3600 * 1000)]
MAX_RETRY_QUEUES = 32


class ErrorPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``repeat_count``: 0 never retry, -1 forever, n retries. ``repeat_backoff``: -1 = the
    retry queue index follows the attempt, i >= 0 = always queue i (clamped to the last)."""

    repeat_count: Annotated[int, msgspec.Meta(ge=-1)] = 0
    repeat_backoff: Annotated[int, msgspec.Meta(ge=-1)] = -1


class RetryConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    backoffs: Annotated[list[Backoff], msgspec.Meta(min_length=1, max_length=MAX_RETRY_QUEUES)]


class QueueConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``type`` names a broker plugin; ``config`` is validated by that plugin's config type."""

    type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class Job(msgspec.Struct, kw_only=True):
    """A job version as the controller returns it (``max_processing_time`` in ms)."""

    id: int
    name: str
    description: str = ""
    type: JobType
    state: JobState
    queue_config: QueueConfig
    retry_config: RetryConfig | None = None
    max_processing_time: int
    version: int
    error_policy: ErrorPolicy | None = None
    emit_acks: bool = False
    created_at: str = ""


class JobCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/job/``; consumer jobs need a retry config with one backoff."""

    name: Name
    description: Description = ""
    type: JobType
    queue_config: QueueConfig
    retry_config: RetryConfig | None = None
    max_processing_time_ms: ProcessingTime
    error_policy: ErrorPolicy | None = None
    emit_acks: bool = False


class JobUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/job/{name}/``: any of these fields; writes a new version."""

    description: Description | None = None
    queue_config: QueueConfig | None = None
    retry_config: RetryConfig | None = None
    max_processing_time_ms: ProcessingTime | None = None
    error_policy: ErrorPolicy | None = None
    emit_acks: bool | None = None


class JobReply(msgspec.Struct):
    job: Job


class JobListReply(msgspec.Struct):
    jobs: list[Job]
