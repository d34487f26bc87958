"""Request and reply bodies of the controller's dispatcher routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from jobqueue.models.job import Job, Name
from jobqueue.models.message import MAX_SAFE_ID

DispatcherId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
JobId = Annotated[int, msgspec.Meta(ge=1, le=MAX_SAFE_ID)]


class RegisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dispatcher_id: DispatcherId
    job_name: Name


class DeregisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dispatcher_id: DispatcherId
    job_id: JobId


class GossipRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dispatcher_id: DispatcherId


class GossipReply(msgspec.Struct):
    jobs: list[Job]


class ErrorReply(msgspec.Struct, omit_defaults=True):
    error: str
    code: str  # no default: omit_defaults would drop it from the wire when it is "error"
    field: str | None = None
    failed_ids: list[int] | None = None
