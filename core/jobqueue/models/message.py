"""Messages as workers see them, and the records the dispatcher writes to DLQ and ack streams."""

from __future__ import annotations

from typing import Annotated

import msgspec

from jobqueue.models.job import ErrorPolicy

MAX_SAFE_ID = 2**53 - 1
MessageId = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_ID)]


class Message(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The original service's message. ``data`` is any JSON, passed through byte for byte.

    ``id`` 0 means "not assigned yet": the dispatcher assigns one at publish.
    """

    id: MessageId = 0
    external_id: Annotated[str, msgspec.Meta(max_length=256)] = ""
    name: Annotated[str, msgspec.Meta(max_length=256)] = ""
    description: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    idempotent: bool = False
    data: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))
    error_policy: ErrorPolicy | None = None
    attempt: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        # msgspec checks the JSON structure of a Raw field but not the UTF-8 inside its
        # strings; one such message would make every poll reply that carries it unreadable.
        try:
            str(memoryview(self.data), "utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"`data` is not valid UTF-8 (byte {exc.start})") from None


class DLQMessage(msgspec.Struct, kw_only=True):
    """A dead-lettered message: ``raw_job`` is the original bytes (base64 on the wire)."""

    raw_job: bytes
    reason: str
    id: int = 0


class AckMessage(msgspec.Struct, kw_only=True):
    """Written to ``<job>_ack`` on every ack when the job enables it."""

    id: int
    external_id: str
    name: str
    attempt: int
