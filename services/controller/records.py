"""Job versions as the store holds them, and their two wire views (redacted and in clear).

Admin routes, the CLI and logs only ever see `JobRecord.to_job()` (secrets masked); the
dispatcher routes call ``to_job(reveal_secrets=True)`` because a dispatcher needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from jobqueue.models import ErrorPolicy, Job, JobState, JobType, QueueConfig, RetryConfig

STOPPED: JobState = "stopped"
ACTIVE: JobState = "active"
DEPRECATED: JobState = "deprecated"
ARCHIVED: JobState = "archived"
JOB_STATES: tuple[JobState, ...] = (STOPPED, ACTIVE, DEPRECATED, ARCHIVED)


@dataclass(frozen=True, slots=True)
class JobDraft:
    """The validated content of a job version, before the store gives it a name and number."""

    description: str
    type: JobType
    queue_type: str
    queue_config: dict[str, Any]
    queue_config_redacted: dict[str, Any]
    retry_backoffs: list[int] | None
    max_processing_time_ms: int
    error_policy: dict[str, Any] | None
    emit_acks: bool

    def columns(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "type": self.type,
            "queue_type": self.queue_type,
            "queue_config": self.queue_config,
            "queue_config_redacted": self.queue_config_redacted,
            "retry_backoffs": self.retry_backoffs,
            "max_processing_time_ms": self.max_processing_time_ms,
            "error_policy": self.error_policy,
            "emit_acks": self.emit_acks,
        }


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One stored job version."""

    id: int
    name: str
    version: int
    state: JobState
    draft: JobDraft
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            state=row.state,
            draft=JobDraft(
                description=row.description,
                type=row.type,
                queue_type=row.queue_type,
                queue_config=row.queue_config,
                queue_config_redacted=row.queue_config_redacted,
                retry_backoffs=row.retry_backoffs,
                max_processing_time_ms=row.max_processing_time_ms,
                error_policy=row.error_policy,
                emit_acks=bool(row.emit_acks),
            ),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )

    def to_job(self, *, reveal_secrets: bool = False) -> Job:
        draft = self.draft
        config = draft.queue_config if reveal_secrets else draft.queue_config_redacted
        return Job(
            id=self.id,
            name=self.name,
            description=draft.description,
            type=draft.type,
            state=self.state,
            queue_config=QueueConfig(type=draft.queue_type, config=dict(config)),
            retry_config=(
                None if draft.retry_backoffs is None else RetryConfig(backoffs=draft.retry_backoffs)
            ),
            max_processing_time=draft.max_processing_time_ms,
            version=self.version,
            error_policy=(
                None
                if draft.error_policy is None
                else msgspec.convert(draft.error_policy, ErrorPolicy)
            ),
            emit_acks=draft.emit_acks,
            created_at=iso(self.created_at),
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything this package writes is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")
