"""The public surface of `jobqueue.client`: a complete, sorted ``__all__`` and the message
helpers."""

from __future__ import annotations

import types

import msgspec
import pytest

import jobqueue.client as client
from jobqueue.client import (
    DLQMessage,
    ErrorPolicy,
    InvalidInput,
    dead_letter_message,
    message_data,
    new_message,
)


def test_all_is_complete_and_sorted() -> None:
    """Every public name of the package is in __all__, and __all__ is sorted."""
    public = {
        name
        for name, value in vars(client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert set(client.__all__) == public
    constants = [n for n in client.__all__ if n.isupper()]
    classes = [n for n in client.__all__ if n[0].isupper() and not n.isupper()]
    functions = [n for n in client.__all__ if n[0].islower()]
    assert client.__all__ == sorted(constants) + sorted(classes) + sorted(functions)


def test_new_message_round_trips_its_data_through_json() -> None:
    """new_message encodes data as raw JSON; message_data decodes it, into a type if asked."""
    policy = ErrorPolicy(repeat_count=1, repeat_backoff=0)
    message = new_message({"n": [1, 2]}, external_id="k", error_policy=policy)
    wire = msgspec.json.decode(msgspec.json.encode(message))
    assert wire["data"] == {"n": [1, 2]} and wire["external_id"] == "k" and wire["id"] == 0
    assert message_data(message) == {"n": [1, 2]}
    assert message_data(message, dict[str, list[int]]) == {"n": [1, 2]}
    with pytest.raises(InvalidInput) as caught:
        message_data(message, list[int])
    assert caught.value.field == "data"
    with pytest.raises(InvalidInput):
        new_message(object())


def test_dead_letter_message_opens_the_original_or_returns_none() -> None:
    """A dead letter's raw_job decodes back into the message; undecodable bytes give None."""
    original = new_message("payload", name="n")
    original.id = 42
    letter = DLQMessage(raw_job=msgspec.json.encode(original), reason="max_retry", id=7)
    opened = dead_letter_message(letter)
    assert opened is not None and opened.id == 42 and message_data(opened) == "payload"
    assert dead_letter_message(DLQMessage(raw_job=b"\xff not json", reason="x")) is None
