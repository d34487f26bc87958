"""Building and reading messages without touching `msgspec.Raw` by hand.

`Message.data` is raw JSON passed through byte for byte; these helpers encode a Python value
into it, decode it back (optionally into a type), and open a dead letter's original message.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import msgspec

from jobqueue.errors import InvalidInput
from jobqueue.models import DLQMessage, ErrorPolicy, Message

T = TypeVar("T")

_decode_message = msgspec.json.Decoder(Message).decode


def new_message(
    data: Any,
    *,
    external_id: str = "",
    name: str = "",
    description: str = "",
    idempotent: bool = False,
    error_policy: ErrorPolicy | None = None,
) -> Message:
    """A message to publish; ``data`` is any JSON-encodable value (msgspec rules: dicts,
    lists, str, numbers, bool, None, structs, dataclasses...). The dispatcher assigns the id.

    ``external_id`` doubles as the partition key: messages with one key keep their order.
    """
    try:
        raw = msgspec.json.encode(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("data", f"not representable as JSON: {exc}") from None
    return Message(
        external_id=external_id,
        name=name,
        description=description,
        idempotent=idempotent,
        data=msgspec.Raw(raw),
        error_policy=error_policy,
    )


@overload
def message_data(message: Message) -> Any: ...
@overload
def message_data(message: Message, type: type[T]) -> T: ...
def message_data(message: Message, type: Any = Any) -> Any:
    """``message.data`` decoded, into ``type`` if given (`InvalidInput` naming the field when
    it does not fit)."""
    try:
        return msgspec.json.decode(bytes(message.data), type=type)
    except msgspec.ValidationError as exc:
        raise InvalidInput("data", str(exc)) from None


def dead_letter_message(dead: DLQMessage) -> Message | None:
    """The message a dead letter holds, or None when its bytes were never a valid message
    (reason ``unable_to_decode``)."""
    try:
        return _decode_message(dead.raw_job)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
