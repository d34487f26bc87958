"""Record keys survive the trip through Kinesis partition keys, whatever their bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobqueue_kinesis.keys import (
    MAX_PARTITION_KEY_CHARS,
    KeyTooLong,
    partition_key,
    record_key,
)


def test_no_key_gets_a_random_partition_key_that_reads_back_as_none() -> None:
    """Unkeyed records spread over shards and come back without a key."""
    first, second = partition_key(None), partition_key(None)
    assert first != second
    assert record_key(first) is None


def test_text_keys_are_stored_verbatim() -> None:
    """A UTF-8 key is the partition key itself, so other Kinesis tools see it as written."""
    assert partition_key(b"customer-42") == "customer-42"
    assert partition_key("clé".encode()) == "clé"


def test_foreign_partition_keys_read_back_as_their_bytes() -> None:
    """Records written by other producers come out with their partition key as the key."""
    assert record_key("order-7") == b"order-7"


@pytest.mark.parametrize(
    "key", [b"", b"\x00\xff\x80key\x7f", b"jobqueue:random:abc", b"x" * MAX_PARTITION_KEY_CHARS]
)
def test_awkward_keys_round_trip(key: bytes) -> None:
    """Empty, binary, reserved-prefix and maximum-length keys round-trip exactly."""
    stored = partition_key(key)
    assert 1 <= len(stored) <= MAX_PARTITION_KEY_CHARS
    assert record_key(stored) == key


def test_a_key_too_long_for_kinesis_is_refused() -> None:
    """A key that fits no partition key raises instead of being truncated."""
    with pytest.raises(KeyTooLong, match="257 bytes"):
        partition_key(b"\xff" * 257)


@given(st.binary(max_size=180))
def test_every_short_binary_key_round_trips(key: bytes) -> None:
    """Any key of up to 180 bytes is representable and comes back unchanged."""
    assert record_key(partition_key(key)) == key
