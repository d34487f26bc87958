"""Wire models (`jobqueue.models`): every field error a request can produce, and round trips.

Each decoding error must be an `InvalidInput` whose ``field`` is the path a client can act on
(``msgs[0].id``) and whose ``reason`` says what is wrong; JSON field names stay those of the
original service (`/work/shared/ORIGINAL_API.md`).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobqueue.contract import Broker, BrokerConfig, Capabilities, Consumer, Producer
from jobqueue.errors import BrokerConfigError, InvalidInput
from jobqueue.models import (
    MAX_SAFE_ID,
    AckMessage,
    DeregisterRequest,
    DLQMessage,
    ErrorPolicy,
    ExtendRequest,
    GossipReply,
    GossipRequest,
    IdsReply,
    IdsRequest,
    Job,
    JobCreate,
    JobUpdate,
    Message,
    MessagesReply,
    PollRequest,
    PublishRequest,
    QueueConfig,
    RedriveRequest,
    RegisterRequest,
    RetryConfig,
    RetryPollRequest,
    convert,
    decode_json,
)

DAY_MS = 24 * 3600 * 1000

# A valid body for every request type; each case below changes one thing in it.
VALID: dict[type[msgspec.Struct], dict[str, Any]] = {
    JobCreate: {
        "name": "orders-v2.eu_1",
        "description": "order events",
        "type": "consumer",
        "queue_config": {"type": "kafka", "config": {"topic": "orders"}},
        "retry_config": {"backoffs": [100, 1000, 10000]},
        "max_processing_time_ms": 30000,
        "error_policy": {"repeat_count": 3, "repeat_backoff": -1},
        "emit_acks": True,
    },
    JobUpdate: {
        "description": "d",
        "queue_config": {"type": "kafka", "config": {}},
        "retry_config": {"backoffs": [1, 2, 3]},
        "max_processing_time_ms": 1,
        "error_policy": {"repeat_count": -1, "repeat_backoff": 0},
        "emit_acks": False,
    },
    QueueConfig: {"type": "sqlite", "config": {"topic": "t"}},
    RetryConfig: {"backoffs": [0, 5, 7 * DAY_MS]},
    ErrorPolicy: {"repeat_count": 0, "repeat_backoff": -1},
    Message: {
        "id": 1,
        "external_id": "ext",
        "name": "n",
        "description": "d",
        "idempotent": True,
        "data": {"any": ["json"]},
        "error_policy": {"repeat_count": 1, "repeat_backoff": 2},
        "attempt": 0,
    },
    PollRequest: {"name": "job", "max_wait_ms": 1000, "max_messages": 10},
    RetryPollRequest: {"name": "job", "retry_queue": 0, "max_wait_ms": 0, "max_messages": 1},
    IdsRequest: {"name": "job", "msg_ids": [1, 2, MAX_SAFE_ID]},
    ExtendRequest: {"name": "job", "msg_ids": [1, 2], "extend_ms": 1000},
    PublishRequest: {
        "name": "job",
        "msgs": [{"error_policy": {}}, {"id": 5}, {"data": 1, "error_policy": {}}],
    },
    RedriveRequest: {"name": "job", "max_messages": 100, "target": "retry_2"},
    RegisterRequest: {"dispatcher_id": "pod-1", "job_name": "job"},
    DeregisterRequest: {"dispatcher_id": "pod-1", "job_id": 7},
    GossipRequest: {"dispatcher_id": "pod-1"},
}
REQUEST_TYPES = list(VALID)

MISSING = object()  # a case value that deletes the key instead of setting it


@dataclass(frozen=True)
class Case:
    """Set ``path`` to ``value`` in the valid body of ``type_``; expect ``field`` and ``reason``."""

    type_: type[msgspec.Struct]
    path: str
    value: Any
    reason: str
    field: str = ""

    @property
    def expected_field(self) -> str:
        return self.field or self.path

    @property
    def id(self) -> str:
        return f"{self.type_.__name__}:{self.path}"


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with ``path`` (``a.b[0].c``) set to ``value`` or deleted."""
    data = copy.deepcopy(body)
    parts = [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[]+", path)]
    target: Any = data
    for part in parts[:-1]:
        target = target[part]
    if value is MISSING:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return data


def decode_case(case: Case) -> InvalidInput:
    body = json.dumps(changed(VALID[case.type_], case.path, case.value)).encode()
    with pytest.raises(InvalidInput) as caught:
        decode_json(body, case.type_)
    return caught.value


def check(case: Case) -> None:
    error = decode_case(case)
    assert error.field == case.expected_field
    assert case.reason in error.reason, error.reason
    assert "$" not in error.field and " - at " not in error.reason
    assert f"`{case.expected_field}`" in str(error)


EXPECTED_STR = "Expected `str`"
EXPECTED_INT = "Expected `int`"
REQUIRED = "missing required field"
UNKNOWN = "unknown field"

MISSING_REQUIRED = [
    Case(JobCreate, "name", MISSING, REQUIRED),
    Case(JobCreate, "type", MISSING, REQUIRED),
    Case(JobCreate, "queue_config", MISSING, REQUIRED),
    Case(JobCreate, "max_processing_time_ms", MISSING, REQUIRED),
    Case(JobCreate, "queue_config.type", MISSING, REQUIRED),
    Case(JobCreate, "retry_config.backoffs", MISSING, REQUIRED),
    Case(JobUpdate, "queue_config.type", MISSING, REQUIRED),
    Case(JobUpdate, "retry_config.backoffs", MISSING, REQUIRED),
    Case(QueueConfig, "type", MISSING, REQUIRED),
    Case(RetryConfig, "backoffs", MISSING, REQUIRED),
    Case(PollRequest, "name", MISSING, REQUIRED),
    Case(RetryPollRequest, "name", MISSING, REQUIRED),
    Case(RetryPollRequest, "retry_queue", MISSING, REQUIRED),
    Case(IdsRequest, "name", MISSING, REQUIRED),
    Case(IdsRequest, "msg_ids", MISSING, REQUIRED),
    Case(ExtendRequest, "name", MISSING, REQUIRED),
    Case(ExtendRequest, "msg_ids", MISSING, REQUIRED),
    Case(ExtendRequest, "extend_ms", MISSING, REQUIRED),
    Case(PublishRequest, "name", MISSING, REQUIRED),
    Case(PublishRequest, "msgs", MISSING, REQUIRED),
    Case(RedriveRequest, "name", MISSING, REQUIRED),
    Case(RegisterRequest, "dispatcher_id", MISSING, REQUIRED),
    Case(RegisterRequest, "job_name", MISSING, REQUIRED),
    Case(DeregisterRequest, "dispatcher_id", MISSING, REQUIRED),
    Case(DeregisterRequest, "job_id", MISSING, REQUIRED),
    Case(GossipRequest, "dispatcher_id", MISSING, REQUIRED),
]

WRONG_TYPE = [
    Case(JobCreate, "name", 5, "Expected `str`, got `int`"),
    Case(JobCreate, "description", ["d"], "Expected `str`, got `array`"),
    Case(JobCreate, "type", 1, "Expected `str`, got `int`"),
    Case(JobCreate, "queue_config", "kafka", "Expected `object`, got `str`"),
    Case(JobCreate, "queue_config.config", ["a"], "Expected `object`, got `array`"),
    Case(JobCreate, "retry_config", [100], "Expected `object | null`, got `array`"),
    Case(JobCreate, "retry_config.backoffs", 100, "Expected `array`, got `int`"),
    Case(JobCreate, "retry_config.backoffs[1]", "1000", "Expected `int`, got `str`"),
    Case(JobCreate, "max_processing_time_ms", "30000", "Expected `int`, got `str`"),
    Case(JobCreate, "max_processing_time_ms", 1.5, "Expected `int`, got `float`"),
    Case(JobCreate, "error_policy", 3, "Expected `object | null`, got `int`"),
    Case(JobCreate, "error_policy.repeat_count", "3", "Expected `int`, got `str`"),
    Case(JobCreate, "emit_acks", "yes", "Expected `bool`, got `str`"),
    Case(JobUpdate, "description", 1, "Expected `str | null`, got `int`"),
    Case(JobUpdate, "queue_config", [], "Expected `object | null`, got `array`"),
    Case(JobUpdate, "retry_config", "x", "Expected `object | null`, got `str`"),
    Case(JobUpdate, "max_processing_time_ms", True, "Expected `int | null`, got `bool`"),
    Case(JobUpdate, "error_policy", [], "Expected `object | null`, got `array`"),
    Case(JobUpdate, "emit_acks", 1, "Expected `bool | null`, got `int`"),
    Case(QueueConfig, "type", None, "Expected `str`, got `null`"),
    Case(QueueConfig, "config", "x", "Expected `object`, got `str`"),
    Case(RetryConfig, "backoffs", {"0": 1}, "Expected `array`, got `object`"),
    Case(ErrorPolicy, "repeat_count", "1", EXPECTED_INT),
    Case(ErrorPolicy, "repeat_backoff", 0.5, "Expected `int`, got `float`"),
    Case(Message, "id", "1", "Expected `int`, got `str`"),
    Case(Message, "external_id", 1, EXPECTED_STR),
    Case(Message, "name", None, EXPECTED_STR),
    Case(Message, "description", {}, EXPECTED_STR),
    Case(Message, "idempotent", "true", "Expected `bool`, got `str`"),
    Case(Message, "error_policy", "retry", "Expected `object | null`, got `str`"),
    Case(Message, "attempt", 1.0, "Expected `int`, got `float`"),
    Case(PollRequest, "name", ["job"], EXPECTED_STR),
    Case(PollRequest, "max_wait_ms", "1000", EXPECTED_INT),
    Case(PollRequest, "max_messages", None, "Expected `int`, got `null`"),
    Case(RetryPollRequest, "name", 1, EXPECTED_STR),
    Case(RetryPollRequest, "retry_queue", "0", EXPECTED_INT),
    Case(RetryPollRequest, "max_wait_ms", False, "Expected `int`, got `bool`"),
    Case(RetryPollRequest, "max_messages", "1", EXPECTED_INT),
    Case(IdsRequest, "name", 1, EXPECTED_STR),
    Case(IdsRequest, "msg_ids", 1, "Expected `array`, got `int`"),
    Case(IdsRequest, "msg_ids[1]", "2", "Expected `int`, got `str`"),
    Case(ExtendRequest, "name", 1, EXPECTED_STR),
    Case(ExtendRequest, "msg_ids", "1,2", "Expected `array`, got `str`"),
    Case(ExtendRequest, "msg_ids[0]", 1.5, "Expected `int`, got `float`"),
    Case(ExtendRequest, "extend_ms", "1s", EXPECTED_INT),
    Case(PublishRequest, "name", 1, EXPECTED_STR),
    Case(PublishRequest, "msgs", {}, "Expected `array`, got `object`"),
    Case(PublishRequest, "msgs[1]", "hello", "Expected `object`, got `str`"),
    Case(PublishRequest, "msgs[0].id", "x", "Expected `int`, got `str`"),
    Case(PublishRequest, "msgs[2].error_policy.repeat_backoff", "0", EXPECTED_INT),
    Case(RedriveRequest, "name", 1, EXPECTED_STR),
    Case(RedriveRequest, "max_messages", "5", EXPECTED_INT),
    Case(RedriveRequest, "target", 0, EXPECTED_STR),
    Case(RegisterRequest, "dispatcher_id", 1, EXPECTED_STR),
    Case(RegisterRequest, "job_name", None, EXPECTED_STR),
    Case(DeregisterRequest, "dispatcher_id", [], EXPECTED_STR),
    Case(DeregisterRequest, "job_id", "7", EXPECTED_INT),
    Case(GossipRequest, "dispatcher_id", 1, EXPECTED_STR),
]

TOO_LONG = "x" * 101
OUT_OF_RANGE = [
    Case(JobCreate, "name", "", "Expected `str` of length >= 1"),
    Case(JobCreate, "name", TOO_LONG, "Expected `str` of length <= 100"),
    Case(JobCreate, "description", TOO_LONG, "Expected `str` of length <= 100"),
    Case(JobCreate, "type", "worker", "Invalid enum value 'worker'"),
    Case(JobCreate, "queue_config.type", "", "Expected `str` of length >= 1"),
    Case(JobCreate, "retry_config.backoffs", [], "Expected `array` of length >= 1"),
    Case(JobCreate, "retry_config.backoffs", [1] * 33, "Expected `array` of length <= 32"),
    Case(JobCreate, "retry_config.backoffs[0]", -1, "Expected `int` >= 0"),
    Case(JobCreate, "retry_config.backoffs[2]", 7 * DAY_MS + 1, "Expected `int` <= 604800000"),
    Case(JobCreate, "max_processing_time_ms", 0, "Expected `int` >= 1"),
    Case(JobCreate, "max_processing_time_ms", 7 * DAY_MS + 1, "Expected `int` <= 604800000"),
    Case(JobCreate, "error_policy.repeat_count", -2, "Expected `int` >= -1"),
    Case(JobCreate, "error_policy.repeat_backoff", -2, "Expected `int` >= -1"),
    Case(JobUpdate, "description", TOO_LONG, "Expected `str` of length <= 100"),
    Case(JobUpdate, "queue_config.type", "k" * 101, "Expected `str` of length <= 100"),
    Case(JobUpdate, "retry_config.backoffs[1]", -5, "Expected `int` >= 0"),
    Case(JobUpdate, "max_processing_time_ms", 0, "Expected `int` >= 1"),
    Case(JobUpdate, "error_policy.repeat_count", -3, "Expected `int` >= -1"),
    Case(QueueConfig, "type", "", "Expected `str` of length >= 1"),
    Case(RetryConfig, "backoffs", [], "Expected `array` of length >= 1"),
    Case(RetryConfig, "backoffs[1]", 10**12, "Expected `int` <= 604800000"),
    Case(ErrorPolicy, "repeat_count", -2, "Expected `int` >= -1"),
    Case(ErrorPolicy, "repeat_backoff", -100, "Expected `int` >= -1"),
    Case(Message, "id", -1, "Expected `int` >= 0"),
    Case(Message, "id", MAX_SAFE_ID + 1, f"Expected `int` <= {MAX_SAFE_ID}"),
    Case(Message, "id", 2**64, f"Expected `int` <= {MAX_SAFE_ID}"),
    Case(Message, "external_id", "e" * 257, "Expected `str` of length <= 256"),
    Case(Message, "name", "n" * 257, "Expected `str` of length <= 256"),
    Case(Message, "description", "d" * 1025, "Expected `str` of length <= 1024"),
    Case(Message, "error_policy.repeat_backoff", -2, "Expected `int` >= -1"),
    Case(Message, "attempt", -1, "Expected `int` >= 0"),
    Case(PollRequest, "name", "", "Expected `str` of length >= 1"),
    Case(PollRequest, "name", TOO_LONG, "Expected `str` of length <= 100"),
    Case(PollRequest, "max_wait_ms", -1, "Expected `int` >= 0"),
    Case(PollRequest, "max_wait_ms", 300_001, "Expected `int` <= 300000"),
    Case(PollRequest, "max_messages", 0, "Expected `int` >= 1"),
    Case(PollRequest, "max_messages", 1001, "Expected `int` <= 1000"),
    Case(RetryPollRequest, "name", "", "Expected `str` of length >= 1"),
    Case(RetryPollRequest, "retry_queue", -1, "Expected `int` >= 0"),
    Case(RetryPollRequest, "retry_queue", 32, "Expected `int` <= 31"),
    Case(RetryPollRequest, "max_wait_ms", 10**6, "Expected `int` <= 300000"),
    Case(RetryPollRequest, "max_messages", 0, "Expected `int` >= 1"),
    Case(IdsRequest, "name", "", "Expected `str` of length >= 1"),
    Case(IdsRequest, "msg_ids", list(range(1001)), "Expected `array` of length <= 1000"),
    Case(IdsRequest, "msg_ids[2]", MAX_SAFE_ID + 1, f"Expected `int` <= {MAX_SAFE_ID}"),
    Case(IdsRequest, "msg_ids[0]", -1, "Expected `int` >= 0"),
    Case(ExtendRequest, "name", TOO_LONG, "Expected `str` of length <= 100"),
    Case(ExtendRequest, "msg_ids", list(range(1001)), "Expected `array` of length <= 1000"),
    Case(ExtendRequest, "msg_ids[1]", 2**53, f"Expected `int` <= {MAX_SAFE_ID}"),
    Case(ExtendRequest, "extend_ms", 0, "Expected `int` >= 1"),
    Case(ExtendRequest, "extend_ms", DAY_MS + 1, f"Expected `int` <= {DAY_MS}"),
    Case(PublishRequest, "name", "", "Expected `str` of length >= 1"),
    Case(PublishRequest, "msgs", [], "Expected `array` of length >= 1"),
    Case(PublishRequest, "msgs", [{}] * 1001, "Expected `array` of length <= 1000"),
    Case(PublishRequest, "msgs[1].id", MAX_SAFE_ID + 1, f"Expected `int` <= {MAX_SAFE_ID}"),
    Case(PublishRequest, "msgs[2].attempt", -1, "Expected `int` >= 0"),
    Case(RedriveRequest, "name", "", "Expected `str` of length >= 1"),
    Case(RedriveRequest, "max_messages", 0, "Expected `int` >= 1"),
    Case(RedriveRequest, "max_messages", 1001, "Expected `int` <= 1000"),
    Case(RegisterRequest, "dispatcher_id", "", "Expected `str` of length >= 1"),
    Case(RegisterRequest, "dispatcher_id", "p" * 201, "Expected `str` of length <= 200"),
    Case(RegisterRequest, "job_name", TOO_LONG, "Expected `str` of length <= 100"),
    Case(DeregisterRequest, "dispatcher_id", "", "Expected `str` of length >= 1"),
    Case(DeregisterRequest, "job_id", 0, "Expected `int` >= 1"),
    Case(DeregisterRequest, "job_id", MAX_SAFE_ID + 1, f"Expected `int` <= {MAX_SAFE_ID}"),
    Case(GossipRequest, "dispatcher_id", "p" * 201, "Expected `str` of length <= 200"),
]

MATCHING = "Expected `str` matching regex"
PATTERN = [
    Case(JobCreate, "name", "has space", MATCHING),
    Case(JobCreate, "name", "a/b", MATCHING),
    Case(JobCreate, "name", "ünïcode", MATCHING),
    Case(JobCreate, "name", "line\nbreak", MATCHING),
    Case(RegisterRequest, "job_name", "../etc", MATCHING),
    Case(RedriveRequest, "target", "dlq", MATCHING),
    Case(RedriveRequest, "target", "retry_", MATCHING),
    Case(RedriveRequest, "target", "retry_x", MATCHING),
    Case(RedriveRequest, "target", "MAIN", MATCHING),
    Case(RedriveRequest, "target", "main ", MATCHING),
]

UNKNOWN_FIELDS = [
    Case(JobCreate, "max_processing_time", 5, UNKNOWN),  # the reply's name, not the request's
    Case(JobCreate, "state", "active", UNKNOWN),
    Case(JobCreate, "queue_config.topic", "t", UNKNOWN),
    Case(JobCreate, "retry_config.backoff", [1], UNKNOWN),
    Case(JobCreate, "error_policy.retries", 1, UNKNOWN),
    Case(JobUpdate, "name", "rename", UNKNOWN),
    Case(JobUpdate, "version", 2, UNKNOWN),
    Case(QueueConfig, "address", "x", UNKNOWN),
    Case(RetryConfig, "backoffs_ms", [1], UNKNOWN),
    Case(ErrorPolicy, "repeat", 1, UNKNOWN),
    Case(Message, "error_policy.count", 1, UNKNOWN),
    Case(PollRequest, "max_wait", 1, UNKNOWN),
    Case(RetryPollRequest, "queue", 1, UNKNOWN),
    Case(IdsRequest, "ids", [1], UNKNOWN),
    Case(ExtendRequest, "extend", 1, UNKNOWN),
    Case(PublishRequest, "messages", [], UNKNOWN),
    Case(PublishRequest, "msgs[0].error_policy.x", 1, UNKNOWN),
    Case(RedriveRequest, "from", "dlq", UNKNOWN),
    Case(RegisterRequest, "job_id", 1, UNKNOWN),
    Case(DeregisterRequest, "job_name", "j", UNKNOWN),
    Case(GossipRequest, "jobs", [], UNKNOWN),
]


@pytest.mark.parametrize("case", MISSING_REQUIRED, ids=lambda c: c.id)
def test_missing_required_field_is_named(case: Case) -> None:
    """Leaving out a required field names it, with its full path."""
    check(case)


@pytest.mark.parametrize("case", WRONG_TYPE, ids=lambda c: c.id)
def test_wrong_type_names_field_and_expected_type(case: Case) -> None:
    """A value of the wrong JSON type names the field, the expected and the actual type."""
    check(case)


@pytest.mark.parametrize("case", OUT_OF_RANGE, ids=lambda c: f"{c.id}={str(c.value)[:12]}")
def test_out_of_range_names_field_and_bound(case: Case) -> None:
    """A number, string or list outside its bounds names the field and the bound."""
    check(case)


@pytest.mark.parametrize("case", PATTERN, ids=lambda c: f"{c.id}={c.value!r}")
def test_pattern_mismatch_names_field_and_pattern(case: Case) -> None:
    """A string that does not match its pattern names the field and the pattern."""
    check(case)


@pytest.mark.parametrize("case", UNKNOWN_FIELDS, ids=lambda c: c.id)
def test_unknown_field_is_named(case: Case) -> None:
    """A key the request type does not have is rejected by its full path (typos are loud)."""
    check(case)


# Each is malformed before any key or value is read, so no type-specific error can win.
MALFORMED = [b"", b" ", b"{", b'{"', b"{'name': 'job'}", b"nul", b"{,}", b"\xff\xfe{}", b"{/**/}"]


@pytest.mark.parametrize("body", MALFORMED, ids=repr)
@pytest.mark.parametrize("type_", REQUEST_TYPES, ids=lambda t: t.__name__)
def test_malformed_json_is_invalid_input_for_the_body(type_: type[Any], body: bytes) -> None:
    """Malformed JSON is an InvalidInput about the whole body that says it is malformed."""
    with pytest.raises(InvalidInput) as caught:
        decode_json(body, type_)
    assert caught.value.field == ""
    assert caught.value.reason.startswith("malformed JSON: ")
    assert "malformed" not in caught.value.reason.removeprefix("malformed JSON: ").lower()
    assert str(caught.value).startswith("invalid request body: malformed JSON")


@pytest.mark.parametrize("body", [b"[]", b"null", b"1", b'"job"'], ids=repr)
@pytest.mark.parametrize("type_", REQUEST_TYPES, ids=lambda t: t.__name__)
def test_non_object_body_is_invalid_input(type_: type[Any], body: bytes) -> None:
    """A JSON value that is not an object is rejected as the body, naming the expected type."""
    with pytest.raises(InvalidInput) as caught:
        decode_json(body, type_)
    assert (caught.value.field, caught.value.reason.split(",")[0]) == ("", "Expected `object`")


def test_prefix_is_prepended_to_field_paths() -> None:
    """``prefix`` nests a decoded value's errors under the field it came from."""
    with pytest.raises(InvalidInput) as caught:
        decode_json(b'{"backoffs": ["x"]}', RetryConfig, prefix="retry_config")
    assert caught.value.field == "retry_config.backoffs[0]"
    with pytest.raises(InvalidInput) as caught:
        decode_json(b"{", RetryConfig, prefix="retry_config")
    assert caught.value.field == "retry_config"


def test_convert_reports_the_same_fields_as_decode() -> None:
    """`convert` (already-parsed data, e.g. YAML) names fields exactly as `decode_json` does."""
    for case in WRONG_TYPE + OUT_OF_RANGE + UNKNOWN_FIELDS + MISSING_REQUIRED:
        data = changed(VALID[case.type_], case.path, case.value)
        with pytest.raises(InvalidInput) as caught:
            convert(data, case.type_)
        assert caught.value.field == case.expected_field, case.id
        assert case.reason in caught.value.reason, case.id


def test_convert_rejects_values_json_cannot_hold() -> None:
    """Builtins with no JSON form (e.g. tuple keys) are InvalidInput, not a TypeError."""
    with pytest.raises(InvalidInput, match="not representable as JSON"):
        convert({"name": "j", (1, 2): 3}, PollRequest)
    with pytest.raises(InvalidInput) as caught:
        convert({"name": "j", "msgs": [{"data": object()}]}, PublishRequest, prefix="body")
    assert caught.value.field == "body"


def test_convert_accepts_any_data_for_a_message() -> None:
    """`convert` gives ``Message.data`` the JSON of parsed data (``msgspec.convert`` cannot)."""
    message = convert({"data": {"a": [1, None, "x"]}}, Message)
    assert json.loads(bytes(message.data)) == {"a": [1, None, "x"]}


@pytest.mark.parametrize("type_", REQUEST_TYPES, ids=lambda t: t.__name__)
def test_valid_body_decodes(type_: type[msgspec.Struct]) -> None:
    """The base body of every case decodes, so each case fails for its one change only."""
    decoded = decode_json(json.dumps(VALID[type_]).encode(), type_)
    assert isinstance(decoded, type_)


def test_message_ignores_unknown_keys() -> None:
    """A Message tolerates extra keys (payloads written by other producers carry their own)."""
    message = decode_json(b'{"id": 1, "payload": "x", "trace": {"a": 1}}', Message)
    assert message.id == 1
    assert b"payload" not in msgspec.json.encode(message)


def test_optional_fields_take_their_defaults() -> None:
    """Leaving out optional fields is fine and gives the documented defaults."""
    poll = decode_json(b'{"name": "j"}', PollRequest)
    assert (poll.max_wait_ms, poll.max_messages) == (0, 10)
    assert decode_json(b"{}", ErrorPolicy) == ErrorPolicy(repeat_count=0, repeat_backoff=-1)
    assert decode_json(b'{"name": "j"}', RedriveRequest).target == "main"
    message = decode_json(b"{}", Message)
    assert (message.id, message.attempt, message.error_policy) == (0, 0, None)
    assert bytes(message.data) == b"null"
    assert decode_json(b"{}", JobUpdate) == JobUpdate()


# -- coverage of the tables above ----------------------------------------------------------


def _unwrap(info: Any) -> list[Any]:
    """The concrete msgspec type infos behind Annotated metadata and ``X | None``."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _unwrap(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        return [t for member in info.types for t in _unwrap(member)]
    return [info]


def _bounded(info: Any) -> bool:
    for t in _unwrap(info):
        if isinstance(t, msgspec.inspect.IntType) and (t.ge, t.gt, t.le, t.lt) != (None,) * 4:
            return True
        if isinstance(t, msgspec.inspect.StrType | msgspec.inspect.ListType) and (
            t.min_length is not None or t.max_length is not None
        ):
            return True
        if isinstance(t, msgspec.inspect.ListType) and _bounded(t.item_type):
            return True
        if isinstance(t, msgspec.inspect.LiteralType):
            return True
    return False


def _patterned(info: Any) -> bool:
    return any(isinstance(t, msgspec.inspect.StrType) and t.pattern for t in _unwrap(info))


def _untyped(info: Any) -> bool:
    return all(
        isinstance(t, msgspec.inspect.RawType | msgspec.inspect.AnyType) for t in _unwrap(info)
    )


def _top(path: str) -> str:
    return re.split(r"[.\[]", path)[0]


@pytest.mark.parametrize("type_", REQUEST_TYPES, ids=lambda t: t.__name__)
def test_cases_cover_every_field_of_every_request_type(type_: type[msgspec.Struct]) -> None:
    """Every required field has a missing case, every field a wrong-type case, every bounded or
    patterned field a range or pattern case, and every strict type an unknown-field case."""
    info = msgspec.inspect.type_info(type_)
    assert isinstance(info, msgspec.inspect.StructType)

    def covered(cases: list[Case]) -> set[str]:
        return {_top(c.path) for c in cases if c.type_ is type_}

    gaps = []
    for f in info.fields:
        if f.required and f.name not in covered(MISSING_REQUIRED):
            gaps.append(f"missing-required {f.name}")
        if not _untyped(f.type) and f.name not in covered(WRONG_TYPE):
            gaps.append(f"wrong-type {f.name}")
        if _bounded(f.type) and f.name not in covered(OUT_OF_RANGE):
            gaps.append(f"out-of-range {f.name}")
        if _patterned(f.type) and f.name not in covered(PATTERN):
            gaps.append(f"pattern {f.name}")
    if info.forbid_unknown_fields and not covered(UNKNOWN_FIELDS):
        gaps.append("unknown-field")
    assert not gaps, f"{type_.__name__} lacks cases: {gaps}"


# -- compatibility with the original service -----------------------------------------------

ORIGINAL_JOB = {
    "id": 12,
    "name": "orders",
    "description": "order events",
    "type": "consumer",
    "state": "active",
    "queue_config": {
        "type": "kafka",
        "config": {
            "cluster_address": ["k1:9092", "k2:9092"],
            "topic": "orders",
            "config": {"acks": "all"},
        },
    },
    "retry_config": {"backoffs": [1000, 60000]},
    "max_processing_time": 30000,
    "version": 3,
}
ORIGINAL_MESSAGE = {
    "id": 9007199254740991,
    "external_id": "order-1",
    "name": "created",
    "description": "an order",
    "idempotent": True,
    "data": {"order": 1, "lines": [{"sku": "a", "qty": 2}]},
    "error_policy": {"repeat_count": -1, "repeat_backoff": 0},
    "attempt": 2,
}


def test_job_round_trip_keeps_original_field_names() -> None:
    """A Job in the original service's shape decodes and encodes back with the same names."""
    job = decode_json(json.dumps(ORIGINAL_JOB).encode(), Job)
    assert job.max_processing_time == 30000
    encoded = json.loads(msgspec.json.encode(job))
    assert {k: encoded[k] for k in ORIGINAL_JOB} == ORIGINAL_JOB
    assert decode_json(msgspec.json.encode(job), Job) == job


def test_job_replies_keep_original_field_names() -> None:
    """Replies wrap jobs as ``{job}`` and ``{jobs: [...]}`` like the original service."""
    job = msgspec.convert(ORIGINAL_JOB, Job)
    assert json.loads(msgspec.json.encode(GossipReply(jobs=[job])))["jobs"][0]["version"] == 3


def test_original_create_and_update_bodies_decode() -> None:
    """The original create and update request bodies decode and round-trip unchanged."""
    create = {
        "name": "orders",
        "description": "order events",
        "type": "consumer",
        "queue_config": ORIGINAL_JOB["queue_config"],
        "retry_config": {"backoffs": [1000]},
        "max_processing_time_ms": 30000,
    }
    job = decode_json(json.dumps(create).encode(), JobCreate)
    encoded = json.loads(msgspec.json.encode(job))
    assert {k: encoded[k] for k in create} == create
    assert decode_json(msgspec.json.encode(job), JobCreate) == job
    update = {"description": "new", "max_processing_time_ms": 5}
    encoded = json.loads(msgspec.json.encode(decode_json(json.dumps(update).encode(), JobUpdate)))
    assert {k: encoded[k] for k in update} == update


def test_message_round_trip_keeps_original_field_names() -> None:
    """A Message encodes with exactly the original fields, in the original names."""
    message = decode_json(json.dumps(ORIGINAL_MESSAGE).encode(), Message)
    assert json.loads(msgspec.json.encode(message)) == ORIGINAL_MESSAGE
    without_policy = {k: v for k, v in ORIGINAL_MESSAGE.items() if k != "error_policy"}
    encoded = json.loads(msgspec.json.encode(convert(without_policy, Message)))
    assert encoded == {**without_policy, "error_policy": None}


@pytest.mark.parametrize(
    ("type_", "body"),
    [
        (PollRequest, {"name": "orders", "max_wait_ms": 5000}),
        (RetryPollRequest, {"name": "orders", "retry_queue": 1, "max_wait_ms": 0}),
        (PollRequest, {"name": "orders", "max_wait_ms": 100}),  # the DLQ poll body
        (IdsRequest, {"name": "orders", "msg_ids": [1, 2]}),
        (PublishRequest, {"name": "orders", "msgs": [ORIGINAL_MESSAGE]}),
        (RegisterRequest, {"dispatcher_id": "d-1", "job_name": "orders"}),
        (DeregisterRequest, {"dispatcher_id": "d-1", "job_id": 12}),
        (GossipRequest, {"dispatcher_id": "d-1"}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_original_worker_and_dispatcher_bodies_round_trip(type_: type[Any], body: Any) -> None:
    """Request bodies from the original API table decode, and encode back to the same keys."""
    decoded = decode_json(json.dumps(body).encode(), type_)
    encoded = json.loads(msgspec.json.encode(decoded))
    assert {k: encoded[k] for k in body} == body


def test_reply_shapes_keep_original_field_names() -> None:
    """Ack/nack replies are ``{failed_ids, bad_ids, error}``; polls are ``{msgs}``."""
    reply = IdsReply(failed_ids=[1], bad_ids=[2], error="broker down")
    assert json.loads(msgspec.json.encode(reply)) == {
        "failed_ids": [1],
        "bad_ids": [2],
        "error": "broker down",
    }
    messages = MessagesReply(msgs=[convert(ORIGINAL_MESSAGE, Message)])
    assert json.loads(msgspec.json.encode(messages)) == {"msgs": [ORIGINAL_MESSAGE]}
    ack = AckMessage(id=1, external_id="e", name="n", attempt=2)
    assert set(json.loads(msgspec.json.encode(ack))) == {"id", "external_id", "name", "attempt"}


# -- ids, data, raw_job --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "path"),
    [
        (Message, "id"),
        (IdsRequest, "msg_ids[0]"),
        (ExtendRequest, "msg_ids[0]"),
        (PublishRequest, "msgs[0].id"),
        (DeregisterRequest, "job_id"),
    ],
)
def test_ids_must_be_javascript_safe(type_: type[msgspec.Struct], path: str) -> None:
    """Ids up to 2^53-1 are accepted; 2^53 and beyond are rejected naming the field."""
    ok = changed(VALID[type_], path, MAX_SAFE_ID)
    assert decode_json(json.dumps(ok).encode(), type_)
    for too_big in (MAX_SAFE_ID + 1, 2**63, 2**64 + 1, 10**30):
        check(Case(type_, path, too_big, f"Expected `int` <= {MAX_SAFE_ID}"))


DATA_DOCUMENTS = [
    b"null",
    b"0",
    b"-0.0",
    b"1e400",
    b"123456789012345678901234567890",
    b"1.50000000000000000001",
    b'"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\"',
    '"café ☕"'.encode(),
    b'{ "b" : 1 ,\n\t"a" : [ true , false , null ] }',
    b'{"dup": 1, "dup": 2}',
    b"[" * 64 + b"]" * 64,
    b'{"nested": {"x": [1, {"y": {}}]}}',
]


@pytest.mark.parametrize("data", DATA_DOCUMENTS, ids=lambda d: d[:20].decode(errors="replace"))
def test_message_data_passes_through_byte_for_byte(data: bytes) -> None:
    """``Message.data`` keeps the exact bytes of any JSON value, through decode and encode."""
    body = b'{"id": 3, "data": ' + data + b', "attempt": 1}'
    message = decode_json(body, Message)
    assert bytes(message.data) == data
    encoded = msgspec.json.encode(message)
    assert b'"data":' + data + b"," in encoded
    assert bytes(decode_json(encoded, Message).data) == data


def test_message_data_must_be_valid_json() -> None:
    """A syntactically broken ``data`` value makes the whole body malformed, not a 500."""
    with pytest.raises(InvalidInput, match="malformed JSON"):
        decode_json(b'{"data": {"a": }', Message)


def test_dlq_raw_job_is_base64_on_the_wire() -> None:
    """``DLQMessage.raw_job`` holds the original bytes and travels as base64."""
    raw = bytes(range(256)) + b'{"not": "json'
    encoded = json.loads(msgspec.json.encode(DLQMessage(raw_job=raw, reason="unable_to_decode")))
    assert encoded["raw_job"] == base64.b64encode(raw).decode()
    assert encoded["reason"] == "unable_to_decode"
    wire = json.dumps({"raw_job": base64.b64encode(b"\x00\xff").decode(), "reason": "max_retry"})
    assert decode_json(wire.encode(), DLQMessage).raw_job == b"\x00\xff"
    with pytest.raises(InvalidInput) as caught:
        decode_json(b'{"raw_job": "not base64!", "reason": "max_retry"}', DLQMessage)
    assert caught.value.field == "raw_job"
    assert "base64" in caught.value.reason


# -- properties ----------------------------------------------------------------------------


def _field_names(info: Any, into: set[str]) -> set[str]:
    for t in _unwrap(info):
        if isinstance(t, msgspec.inspect.StructType):
            for f in t.fields:
                into.add(f.name)
                _field_names(f.type, into)
        elif isinstance(t, msgspec.inspect.ListType):
            _field_names(t.item_type, into)
    return into


FIELD_NAMES = sorted(
    set().union(*(_field_names(msgspec.inspect.type_info(t), set()) for t in REQUEST_TYPES))
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["consumer", "producer", "main", "retry_1", "job", "kafka", ""])
)
# Objects use the models' own keys most of the time, so decoding gets past the top level.
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(type_=st.sampled_from(REQUEST_TYPES), value=JSON_VALUES)
def test_any_json_value_decodes_or_is_invalid_input(type_: type[Any], value: Any) -> None:
    """Random JSON decoded as any request type either succeeds or raises InvalidInput."""
    try:
        decoded = decode_json(_json(value), type_)
    except InvalidInput as exc:
        keys = set(value) if isinstance(value, dict) else set()
        assert exc.reason
        assert exc.field == "" or any(exc.field.startswith(k) for k in keys | set(FIELD_NAMES))
        return
    assert decode_json(msgspec.json.encode(decoded), type_) == decoded


@settings(max_examples=200, deadline=None)
@given(
    type_=st.sampled_from(REQUEST_TYPES),
    path=st.sampled_from(sorted({c.path for c in WRONG_TYPE + OUT_OF_RANGE})),
    value=JSON_VALUES,
)
def test_any_value_at_a_known_field_decodes_or_is_invalid_input(
    type_: type[Any], path: str, value: Any
) -> None:
    """Random values placed at real field paths of valid bodies decode or raise InvalidInput."""
    try:
        body = changed(VALID[type_], path, value)
    except (KeyError, IndexError, TypeError):
        return  # the path does not exist in this type's body
    try:
        decode_json(_json(body), type_)
    except InvalidInput as exc:
        assert exc.field, "an error inside a valid body names its field"


@settings(max_examples=300, deadline=None)
@given(type_=st.sampled_from(REQUEST_TYPES), body=st.binary(max_size=64))
def test_any_bytes_decode_or_are_invalid_input(type_: type[Any], body: bytes) -> None:
    """Arbitrary bytes decode or raise InvalidInput, never another exception."""
    try:
        decoded = decode_json(body, type_)
    except InvalidInput as exc:
        assert exc.reason
    else:
        assert isinstance(decoded, type_)


@settings(max_examples=200, deadline=None)
@given(type_=st.sampled_from(REQUEST_TYPES), value=JSON_VALUES)
def test_any_builtins_convert_or_are_invalid_input(type_: type[Any], value: Any) -> None:
    """`convert` of random builtins succeeds or raises InvalidInput, like `decode_json`."""
    try:
        decoded = convert(value, type_)
    except InvalidInput as exc:
        assert exc.reason
    else:
        assert isinstance(decoded, type_)


@settings(max_examples=200, deadline=None)
@given(
    value=st.recursive(
        SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c)
    ),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
)
def test_any_json_data_survives_byte_for_byte(
    value: Any, indent: int | None, ascii_only: bool
) -> None:
    """Any JSON value, however formatted, comes back from a Message with the same bytes."""
    data = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    message = decode_json(b'{"data": ' + data + b"}", Message)
    assert bytes(message.data) == data.strip()
    assert bytes(decode_json(msgspec.json.encode(message), Message).data) == data.strip()


# -- broker configs ------------------------------------------------------------------------


class Sasl(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mechanism: str
    password: Annotated[str, msgspec.Meta(max_length=16)]


class TinyConfig(BrokerConfig, kw_only=True):
    """A broker config as a plugin would declare one."""

    __secret_fields__ = frozenset({"sasl"})

    hosts: Annotated[list[str], msgspec.Meta(min_length=1)]
    topic: Annotated[str, msgspec.Meta(pattern=r"^[a-z]+$")]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 9092
    sasl: Sasl | None = None


class TinyBroker(Broker):
    name = "tiny"
    config_type = TinyConfig
    capabilities = Capabilities(max_payload_bytes=1)

    def producer(self, topic: str) -> Producer:
        raise NotImplementedError

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> Consumer:
        raise NotImplementedError

    def ensure_topics(self, topics: Any) -> None:
        return None


TINY_OK = {"hosts": ["h1"], "topic": "orders", "sasl": {"mechanism": "PLAIN", "password": "pw"}}


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("topic", MISSING, "topic", REQUIRED),
        ("hosts", [], "hosts", "Expected `array` of length >= 1"),
        ("hosts", "h1", "hosts", "Expected `array`, got `str`"),
        ("hosts[0]", 5, "hosts[0]", "Expected `str`, got `int`"),
        ("topic", "Orders!", "topic", MATCHING),
        ("port", 0, "port", "Expected `int` >= 1"),
        ("port", "9092", "port", "Expected `int`, got `str`"),
        ("sasl.mechanism", MISSING, "sasl.mechanism", REQUIRED),
        ("sasl.password", "a-very-long-secret-value", "sasl.password", "length <= 16"),
        ("sasl.extra", 1, "sasl.extra", UNKNOWN),
        ("topik", "orders", "topik", UNKNOWN),
    ],
)
def test_parse_config_maps_to_broker_config_error_with_field(
    path: str, value: Any, field: str, reason: str
) -> None:
    """`Broker.parse_config` raises BrokerConfigError naming the broker, field and reason."""
    with pytest.raises(BrokerConfigError) as caught:
        TinyBroker.parse_config(changed(TINY_OK, path, value))
    error = caught.value
    assert (error.broker, error.field) == ("tiny", field)
    assert reason in error.reason
    assert str(error).startswith(f"invalid tiny broker config field `{field}`: ")
    assert "secret" not in str(error) and "pw" not in str(error)


def test_parse_config_rejects_a_non_object_without_a_field() -> None:
    """A config that is not an object is a BrokerConfigError about the whole config."""
    with pytest.raises(BrokerConfigError) as caught:
        TinyBroker.parse_config(["h1"])
    assert (caught.value.field, caught.value.reason) == ("", "Expected `object`, got `array`")
    assert str(caught.value) == "invalid tiny broker config: Expected `object`, got `array`"


def test_parse_config_returns_the_typed_config() -> None:
    """A valid config comes back as the broker's config type with defaults filled in."""
    config = TinyBroker.parse_config(TINY_OK)
    assert isinstance(config, TinyConfig)
    assert (config.port, config.hosts) == (9092, ["h1"])
    assert config.redacted()["sasl"] != TINY_OK["sasl"]
