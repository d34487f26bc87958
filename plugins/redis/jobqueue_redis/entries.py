"""How a record is stored as a stream entry, and read back as a delivery."""

from __future__ import annotations

from typing import Any

import msgspec
from redis.typing import EncodableT, FieldT

from jobqueue.contract import Delivery, Record

PAYLOAD = b"payload"
KEY = b"key"


def encode(record: Record) -> dict[FieldT, EncodableT]:
    """The entry's fields; the key is left out when the record has none."""
    if record.key is None:
        return {PAYLOAD: record.payload}
    return {PAYLOAD: record.payload, KEY: record.key}


def decode(entry_id: bytes, fields: dict[Any, Any]) -> Delivery:
    """A delivery whose handle is the entry id.

    An entry written by another tool, without a ``payload`` field, is handed out with its
    fields as a JSON object so that the dispatcher can dead-letter it with the data intact.
    """
    payload = fields.get(PAYLOAD)
    if payload is None:
        payload = msgspec.json.encode({_text(name): _text(value) for name, value in fields.items()})
    return Delivery(payload=payload, key=fields.get(KEY), handle=entry_id)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
