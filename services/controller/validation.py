"""Turning create and update requests into a `JobDraft`, with the broker plugin as the judge.

Whatever the wire types cannot check is checked here: the queue config against its broker's
config type (unknown broker → 400 listing the installed ones; bad field → 400 naming it), and
a consumer job's retry config. Errors name the request field as the client wrote it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from jobqueue.contract import REDACTED, BrokerConfig
from jobqueue.errors import BrokerConfigError, InvalidInput, UnknownBroker
from jobqueue.models import JobCreate, JobType, JobUpdate, QueueConfig
from jobqueue.plugins import BrokerRegistry

from .errors import UnknownQueueType
from .records import JobDraft, JobRecord

_CONFIG_FIELD = "queue_config.config"
T = TypeVar("T")


class JobValidator:
    def __init__(self, registry: BrokerRegistry) -> None:
        self.registry = registry

    def for_create(self, request: JobCreate) -> JobDraft:
        config = self._parse_queue_config(request.queue_config)
        backoffs = None if request.retry_config is None else list(request.retry_config.backoffs)
        _check_retry(request.type, backoffs)
        return JobDraft(
            description=request.description,
            type=request.type,
            queue_type=request.queue_config.type,
            queue_config=msgspec.to_builtins(config),
            queue_config_redacted=config.redacted(),
            retry_backoffs=backoffs,
            max_processing_time_ms=request.max_processing_time_ms,
            error_policy=msgspec.to_builtins(request.error_policy),
            emit_acks=request.emit_acks,
        )

    def for_update(self, current: JobRecord, request: JobUpdate) -> JobDraft:
        """The draft of version n+1: ``current`` with the fields the request sets."""
        old = current.draft
        queue_type, clear, redacted = old.queue_type, old.queue_config, old.queue_config_redacted
        if request.queue_config is not None:
            queue_config = request.queue_config
            if queue_config.type == old.queue_type:
                queue_config = self._keep_masked_secrets(queue_config, old.queue_config)
            config = self._parse_queue_config(queue_config)
            queue_type = queue_config.type
            clear, redacted = msgspec.to_builtins(config), config.redacted()
        backoffs = old.retry_backoffs
        if request.retry_config is not None:
            backoffs = list(request.retry_config.backoffs)
        _check_retry(old.type, backoffs)
        return JobDraft(
            description=_pick(request.description, old.description),
            type=old.type,
            queue_type=queue_type,
            queue_config=clear,
            queue_config_redacted=redacted,
            retry_backoffs=backoffs,
            max_processing_time_ms=_pick(
                request.max_processing_time_ms, old.max_processing_time_ms
            ),
            error_policy=(
                old.error_policy
                if request.error_policy is None
                else msgspec.to_builtins(request.error_policy)
            ),
            emit_acks=_pick(request.emit_acks, old.emit_acks),
        )

    def _parse_queue_config(self, queue_config: QueueConfig) -> BrokerConfig:
        try:
            return self.registry.parse_config(queue_config.type, queue_config.config)
        except UnknownBroker as exc:
            raise UnknownQueueType(exc.name, exc.installed) from None
        except BrokerConfigError as exc:
            field = f"{_CONFIG_FIELD}.{exc.field}" if exc.field else _CONFIG_FIELD
            raise BrokerConfigError(exc.broker, exc.reason, field) from None
        except Exception as exc:  # a plugin bug must not become a bare 500
            raise BrokerConfigError(
                queue_config.type, f"the plugin failed to validate it ({type(exc).__name__})"
            ) from exc

    def _keep_masked_secrets(self, new: QueueConfig, old_clear: dict[str, Any]) -> QueueConfig:
        """A client that sends back a config it read gets the masked secrets kept as they were."""
        try:
            secret_fields = self.registry.get(new.type).config_type.__secret_fields__
        except UnknownBroker:
            return new
        config = dict(new.config)
        for field in secret_fields:
            if config.get(field) == REDACTED and field in old_clear:
                config[field] = old_clear[field]
        return QueueConfig(type=new.type, config=config)


def _pick(new: T | None, old: T) -> T:
    return old if new is None else new


def _check_retry(job_type: JobType, backoffs: list[int] | None) -> None:
    if job_type == "consumer" and not backoffs:
        raise InvalidInput(
            "retry_config", "consumer jobs need a retry_config with at least one backoff (ms)"
        )


def check_update_not_empty(request: JobUpdate) -> None:
    if all(getattr(request, field) is None for field in request.__struct_fields__):
        raise InvalidInput(
            "", "an update sets at least one of: " + ", ".join(request.__struct_fields__)
        )
