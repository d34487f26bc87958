"""What the dispatcher writes to a job's retry, dead-letter and ack topics.

Retry records wrap the message with the time it was enqueued, so a retry receiver knows
when its head is due whatever the broker; dead-letter records keep the original bytes.
"""

from __future__ import annotations

import msgspec

from jobqueue.models import Message


class RetryRecord(msgspec.Struct, kw_only=True):
    enqueued_at_ms: int
    message: Message


class DLQRecord(msgspec.Struct, kw_only=True):
    raw_job: bytes
    reason: str
    dead_at_ms: int = 0


def retry_topic(job: str, index: int) -> str:
    return f"{job}_retry_{index}"


def dlq_topic(job: str) -> str:
    return f"{job}_dlq"


def ack_topic(job: str) -> str:
    return f"{job}_ack"
