"""Wire models (msgspec) with the original service's JSON field names."""

from __future__ import annotations

from jobqueue.models.controller_api import (
    DeregisterRequest,
    ErrorReply,
    GossipReply,
    GossipRequest,
    RegisterRequest,
)
from jobqueue.models.decoding import convert, decode_json, split_validation_error
from jobqueue.models.job import (
    ErrorPolicy,
    Job,
    JobCreate,
    JobListReply,
    JobReply,
    JobState,
    JobType,
    JobUpdate,
    QueueConfig,
    RetryConfig,
)
from jobqueue.models.message import MAX_SAFE_ID, AckMessage, DLQMessage, Message
from jobqueue.models.worker_api import (
    DLQMessagesReply,
    ExtendRequest,
    IdsReply,
    IdsRequest,
    MessagesReply,
    NameRequest,
    PollRequest,
    PublishReply,
    PublishRequest,
    RedriveReply,
    RedriveRequest,
    RetryPollRequest,
)

__all__ = [
    "MAX_SAFE_ID",
    "AckMessage",
    "DLQMessage",
    "DLQMessagesReply",
    "DeregisterRequest",
    "ErrorPolicy",
    "ErrorReply",
    "ExtendRequest",
    "GossipReply",
    "GossipRequest",
    "IdsReply",
    "IdsRequest",
    "Job",
    "JobCreate",
    "JobListReply",
    "JobReply",
    "JobState",
    "JobType",
    "JobUpdate",
    "Message",
    "MessagesReply",
    "NameRequest",
    "PollRequest",
    "PublishReply",
    "PublishRequest",
    "QueueConfig",
    "RedriveReply",
    "RedriveRequest",
    "RegisterRequest",
    "RetryConfig",
    "RetryPollRequest",
    "convert",
    "decode_json",
    "split_validation_error",
]
