"""Request and reply bodies of the dispatcher's worker API (the original service's paths)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from jobqueue.models.job import MAX_RETRY_QUEUES
from jobqueue.models.message import DLQMessage, Message, MessageId

JobName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
WaitMs = Annotated[int, msgspec.Meta(ge=0, le=300_000)]
MaxMessages = Annotated[int, msgspec.Meta(ge=1, le=1000)]
IdList = Annotated[list[MessageId], msgspec.Meta(max_length=1000)]


class NameRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: JobName


class PollRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: JobName
    max_wait_ms: WaitMs = 0
    max_messages: MaxMessages = 10


class RetryPollRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: JobName
    retry_queue: Annotated[int, msgspec.Meta(ge=0, le=MAX_RETRY_QUEUES - 1)]
    max_wait_ms: WaitMs = 0
    max_messages: MaxMessages = 10


class IdsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ack and nack."""

    name: JobName
    msg_ids: IdList


class ExtendRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: JobName
    msg_ids: IdList
    extend_ms: Annotated[int, msgspec.Meta(ge=1, le=24 * 3600 * 1000)]


class PublishRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: JobName
    msgs: Annotated[list[Message], msgspec.Meta(min_length=1, max_length=1000)]


class RedriveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Move up to ``max_messages`` from the DLQ to ``target``: ``"main"`` or ``"retry_<i>"``."""

    name: JobName
    max_messages: MaxMessages = 100
    target: Annotated[str, msgspec.Meta(pattern=r"^(main|retry_[0-9]+)$")] = "main"


class MessagesReply(msgspec.Struct):
    msgs: list[Message]


class DLQMessagesReply(msgspec.Struct):
    msgs: list[DLQMessage]


class IdsReply(msgspec.Struct):
    """``bad_ids``: not held (never issued or already settled); ``failed_ids``: held, but the
    broker failed: retry them."""

    failed_ids: list[int]
    bad_ids: list[int]
    error: str = ""


class PublishReply(msgspec.Struct):
    ids: list[int] = msgspec.field(default_factory=list)


class RedriveReply(msgspec.Struct):
    moved: int
