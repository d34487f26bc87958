"""Record keys (bytes or none) to Kinesis partition keys (1-256 characters) and back.

Kinesis has no "no key": every record carries a partition key that picks its shard. A record
without a key gets a random one under a reserved prefix, so that the consumer can hand it out
with ``key=None`` again. A key that is not valid UTF-8, is empty, is longer than 256 characters
or starts with the reserved prefix is stored base64-encoded under a second reserved prefix.
Anything else is stored as it is, so records written by other Kinesis producers come out with
their partition key as the key.
"""

from __future__ import annotations

import base64
import binascii
import uuid

MAX_PARTITION_KEY_CHARS = 256
RESERVED_PREFIX = "jobqueue:"
_RANDOM_PREFIX = "jobqueue:random:"
_BASE64_PREFIX = "jobqueue:b64:"


class KeyTooLong(ValueError):
    """The key cannot be represented as a Kinesis partition key."""


def partition_key(key: bytes | None) -> str:
    """The partition key that stores ``key``; raises `KeyTooLong` if none can."""
    if key is None:
        return _RANDOM_PREFIX + uuid.uuid4().hex
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if 0 < len(text) <= MAX_PARTITION_KEY_CHARS and not text.startswith(RESERVED_PREFIX):
        return text
    encoded = _BASE64_PREFIX + base64.b64encode(key).decode("ascii")
    if len(encoded) > MAX_PARTITION_KEY_CHARS:
        raise KeyTooLong(
            f"key of {len(key)} bytes does not fit a Kinesis partition key "
            f"({MAX_PARTITION_KEY_CHARS} characters)"
        )
    return encoded


def record_key(partition: str) -> bytes | None:
    """The record key stored in ``partition`` (the inverse of `partition_key`)."""
    if partition.startswith(_RANDOM_PREFIX):
        return None
    if partition.startswith(_BASE64_PREFIX):
        try:
            return base64.b64decode(partition[len(_BASE64_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass  # written by someone else with our prefix: keep it verbatim
    return partition.encode("utf-8")
