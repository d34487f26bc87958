"""The worker SDK: talk to a dispatcher, or let a `Worker` run your handler.

    from jobqueue.client import Nack, Worker, message_data

    def handle(message):
        order = message_data(message)
        if not ship(order):
            raise Nack("carrier down")   # retried by the job's retry policy

    Worker("orders", handle, concurrency=8).run()

`DispatcherClient` / `AsyncDispatcherClient` cover every worker route with typed errors
(the tree is in ``jobqueue.client._exceptions``); `new_message` builds messages to publish.
"""

from __future__ import annotations

from jobqueue.client._async_client import AsyncDispatcherClient
from jobqueue.client._calls import DEFAULT_DISPATCHER_URL
from jobqueue.client._client import DispatcherClient
from jobqueue.client._exceptions import (
    ERROR_TYPES,
    BadRequest,
    DispatcherUnavailable,
    Nack,
    error_from_reply,
    is_retryable,
)
from jobqueue.client._messages import dead_letter_message, message_data, new_message
from jobqueue.client._stats import WorkerStats
from jobqueue.client._worker import DLQHandler, Handler, Worker
from jobqueue.errors import (
    BackPressure,
    BrokerUnavailable,
    ControllerUnavailable,
    InvalidInput,
    JobNotFound,
    JobQueueError,
    JobStopped,
    NotFound,
    NotSubscribed,
    PayloadTooLarge,
    PublishFailed,
    ServiceUnavailable,
    Unauthorized,
)
from jobqueue.models import DLQMessage, ErrorPolicy, IdsReply, Message

__all__ = [
    "DEFAULT_DISPATCHER_URL",
    "ERROR_TYPES",
    "AsyncDispatcherClient",
    "BackPressure",
    "BadRequest",
    "BrokerUnavailable",
    "ControllerUnavailable",
    "DLQHandler",
    "DLQMessage",
    "DispatcherClient",
    "DispatcherUnavailable",
    "ErrorPolicy",
    "Handler",
    "IdsReply",
    "InvalidInput",
    "JobNotFound",
    "JobQueueError",
    "JobStopped",
    "Message",
    "Nack",
    "NotFound",
    "NotSubscribed",
    "PayloadTooLarge",
    "PublishFailed",
    "ServiceUnavailable",
    "Unauthorized",
    "Worker",
    "WorkerStats",
    "dead_letter_message",
    "error_from_reply",
    "is_retryable",
    "message_data",
    "new_message",
]
