"""Request and reply bodies of the controller's dispatcher routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from jobqueue.models.job import Job, Name

DispatcherId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RegisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dispatcher_id: DispatcherId
    job_name: Name


class DeregisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dispatcher_id: DispatcherId
    job_id: int


class GossipRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dispatcher_id: DispatcherId


class GossipReply(msgspec.Struct):
    jobs: list[Job]


class ErrorReply(msgspec.Struct):
    error: str
    code: str = "error"
    field: str | None = None
    failed_ids: list[int] | None = None
