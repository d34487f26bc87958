"""Bad input: every kind is a 400 whose body names the field; oversized bodies are 413."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Api

JOBS = "/api/v1/job/"


def _without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != field}


CREATE_CASES: list[tuple[str, Any, str]] = [
    ("name with a space", {"name": "a b"}, "name"),
    ("name with a slash", {"name": "a/b"}, "name"),
    ("empty name", {"name": ""}, "name"),
    ("name of 101 characters", {"name": "n" * 101}, "name"),
    ("description of 101 characters", {"description": "d" * 101}, "description"),
    ("unknown job type", {"type": "batch"}, "type"),
    ("max_processing_time_ms of 0", {"max_processing_time_ms": 0}, "max_processing_time_ms"),
    ("max_processing_time_ms as text", {"max_processing_time_ms": "5"}, "max_processing_time_ms"),
    ("empty backoffs", {"retry_config": {"backoffs": []}}, "retry_config.backoffs"),
    ("negative backoff", {"retry_config": {"backoffs": [10, -1]}}, "retry_config.backoffs[1]"),
    ("consumer without retry_config", {"retry_config": None}, "retry_config"),
    ("unknown top-level field", {"colour": "red"}, "colour"),
    ("bad error policy", {"error_policy": {"repeat_count": -2}}, "error_policy.repeat_count"),
    (
        "queue_config without type",
        {"queue_config": {"config": {"topic": "t"}}},
        "queue_config.type",
    ),
    (
        "broker config missing its topic",
        {"queue_config": {"type": "sqlite", "config": {}}},
        "queue_config.config.topic",
    ),
    (
        "broker config with an unknown field",
        {"queue_config": {"type": "sqlite", "config": {"topic": "t", "bogus": 1}}},
        "queue_config.config.bogus",
    ),
    (
        "broker config field of the wrong type",
        {"queue_config": {"type": "sasltest", "config": {"topic": "t", "cluster_address": 5}}},
        "queue_config.config.cluster_address",
    ),
]


@pytest.mark.parametrize(
    ("case", "override", "field"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES]
)
def test_bad_create_is_400_naming_the_field(
    api: Api, case: str, override: dict[str, Any], field: str
) -> None:
    """Each kind of bad create body is a 400 whose `field` points at the culprit."""
    reply = api.error("POST", JOBS, 400, {**api.job_body("valid-name"), **override})
    assert reply["field"] == field, reply
    assert reply["code"] in {"invalid_input", "broker_config_error"}
    api.error("GET", "/api/v1/job/valid-name/", 404)


@pytest.mark.parametrize("field", ["name", "type", "queue_config", "max_processing_time_ms"])
def test_missing_required_field_is_400_naming_it(api: Api, field: str) -> None:
    """A create without a required field names that field."""
    reply = api.error("POST", JOBS, 400, _without(api.job_body("x"), field))
    assert reply["field"] == field
    assert "missing" in reply["error"]


def test_unknown_broker_type_lists_the_installed_ones(api: Api) -> None:
    """An unknown queue_config.type is a 400 listing every installed broker."""
    body = api.job_body("x", queue_config={"type": "rabbitmq", "config": {}})
    reply = api.error("POST", JOBS, 400, body)
    assert reply["code"] == "unknown_broker"
    assert reply["field"] == "queue_config.type"
    assert "rabbitmq" in reply["error"]
    assert "sqlite" in reply["error"] and "sasltest" in reply["error"]


def test_broker_config_error_names_the_broker(api: Api) -> None:
    """A config its plugin rejects is a broker_config_error naming the broker."""
    body = api.job_body("x", queue_config={"type": "sqlite", "config": {}})
    reply = api.error("POST", JOBS, 400, body)
    assert reply["code"] == "broker_config_error"
    assert "sqlite" in reply["error"]


def test_malformed_json_is_400(api: Api) -> None:
    """A body that is not JSON is a 400 that says so."""
    headers = {"content-type": "application/json"}
    reply = api.error("POST", JOBS, 400, content=b"{not json", headers=headers)
    assert "JSON" in reply["error"]


def test_empty_body_is_400(api: Api) -> None:
    """An empty body is a 400."""
    api.error("POST", JOBS, 400, content=b"")


def test_json_that_is_not_an_object_is_400(api: Api) -> None:
    """A JSON array is not a job."""
    api.error("POST", JOBS, 400, content=b"[1, 2]")


def test_bad_name_in_the_path_is_400(api: Api) -> None:
    """A path name outside the safe charset is a 400 naming `name`."""
    reply = api.error("GET", "/api/v1/job/bad%20name/", 400)
    assert reply["field"] == "name"
    reply = api.error("PUT", f"/api/v1/job/{'n' * 101}/start/", 400)
    assert reply["field"] == "name"


UPDATE_CASES: list[tuple[str, Any, str]] = [
    ("empty update", {}, ""),
    ("unknown field", {"name": "renamed"}, "name"),
    ("zero processing time", {"max_processing_time_ms": 0}, "max_processing_time_ms"),
    ("empty backoffs", {"retry_config": {"backoffs": []}}, "retry_config.backoffs"),
    ("long description", {"description": "d" * 101}, "description"),
    (
        "bad broker config",
        {"queue_config": {"type": "sqlite", "config": {"topic": 7}}},
        "queue_config.config.topic",
    ),
    ("unknown broker", {"queue_config": {"type": "nope", "config": {}}}, "queue_config.type"),
]


@pytest.mark.parametrize(("case", "body", "field"), UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_bad_update_is_400_and_writes_nothing(
    api: Api, case: str, body: dict[str, Any], field: str
) -> None:
    """A bad update is a 400 naming the field, and no version is written."""
    api.create("stable")
    reply = api.error("POST", "/api/v1/job/stable/", 400, body)
    assert (reply.get("field") or "") == field, reply
    assert [v["version"] for v in api.ok("GET", "/api/v1/job/stable/versions/")["jobs"]] == [1]


def test_unknown_state_filter_is_400(api: Api) -> None:
    """?state= accepts only the job states."""
    reply = api.error("GET", f"{JOBS}?state=running", 400)
    assert reply["field"] == "state"
    assert "stopped" in reply["error"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/dispatcher/register/", {"dispatcher_id": "", "job_name": "x"}, "dispatcher_id"),
        ("/api/v1/dispatcher/register/", {"dispatcher_id": "d1"}, "job_name"),
        ("/api/v1/dispatcher/register/", {"dispatcher_id": "d1", "job_name": "a b"}, "job_name"),
        ("/api/v1/dispatcher/deregister/", {"dispatcher_id": "d1", "job_id": "7"}, "job_id"),
        ("/api/v1/dispatcher/gossip/", {"dispatcher_id": 5}, "dispatcher_id"),
        ("/api/v1/dispatcher/gossip/", {"dispatcher_id": "d" * 201}, "dispatcher_id"),
    ],
)
def test_bad_dispatcher_requests_are_400(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    """The dispatcher routes name the bad field too."""
    assert api.error("POST", path, 400, body)["field"] == field


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", JOBS),
        ("POST", "/api/v1/job/big/"),
        ("POST", "/api/v1/dispatcher/register/"),
        ("POST", "/api/v1/dispatcher/gossip/"),
    ],
)
def test_oversized_body_is_413(api: Api, method: str, path: str) -> None:
    """Bodies over the 1 MiB limit are refused with 413 before they are parsed."""
    api.create("big")
    body = {**api.job_body("big2"), "description": "x" * (1024 * 1024 + 1)}
    reply = api.error(method, path, 413, body)
    assert reply["code"] == "payload_too_large"
    api.error("GET", "/api/v1/job/big2/", 404)


def test_wrong_method_is_405_json(api: Api) -> None:
    """A known path with an unsupported method is a JSON 405."""
    api.error("PATCH", "/api/v1/job/x/", 405)


def test_unknown_path_is_404_json(api: Api) -> None:
    """An unknown path is a JSON 404 naming it."""
    assert "/api/v2/nothing" in api.error("GET", "/api/v2/nothing", 404)["error"]
