"""Broker secrets: stored, handed to registering dispatchers, never shown or logged elsewhere."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from jobqueue.cli import main
from jobqueue.contract import REDACTED

if TYPE_CHECKING:
    from conftest import Api


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record with its message, args and extra fields."""
    return "\n".join(f"{record.getMessage()} {vars(record)!r}" for record in caplog.records)


def _create_secret_job(api: Api, name: str = "payments") -> dict[str, Any]:
    body = api.job_body(name, queue_config=api.sasl_config("payments"))
    response = api.request("POST", "/api/v1/job/", json=body)
    assert response.status_code == 200, response.text
    assert api.SECRET not in response.text
    job: dict[str, Any] = response.json()["job"]
    return job


def test_admin_routes_never_return_the_password(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """create/get/list/update/versions/start/stop/archive replies mask the SASL password."""
    caplog.set_level(logging.DEBUG)
    job = _create_secret_job(api)
    config = job["queue_config"]["config"]
    assert config["sasl_password"] == REDACTED
    assert config["sasl_username"] == "svc-orders"
    assert config["cluster_address"] == ["kafka-1:9092", "kafka-2:9092"]
    texts = [
        api.request("GET", "/api/v1/job/payments/").text,
        api.request("POST", "/api/v1/job/payments/", json={"description": "v2"}).text,
        api.request("GET", "/api/v1/job/").text,
        api.request("GET", "/api/v1/job/?state=deprecated").text,
        api.request("GET", "/api/v1/job/payments/versions/").text,
        api.request("PUT", "/api/v1/job/payments/start/").text,
        api.request("PUT", "/api/v1/job/payments/stop/").text,
        api.request("DELETE", "/api/v1/job/payments/").text,
        api.request("GET", "/api/v1/job/?state=archived").text,
        api.request("GET", "/metrics").text,
    ]
    for text in texts:
        assert "payments" in text or "jobqueue_controller" in text
        assert api.SECRET not in text
    assert REDACTED in texts[0]
    assert caplog.records, "the controller logs job changes"
    assert "payments" in _log_text(caplog)
    assert api.SECRET not in _log_text(caplog)


def test_register_and_gossip_return_the_password(api: Api) -> None:
    """A registering dispatcher gets the config in clear: it must connect to the broker."""
    _create_secret_job(api)
    body = {"dispatcher_id": "d-1", "job_name": "payments"}
    registered = api.ok("POST", "/api/v1/dispatcher/register/", body)["job"]
    assert registered["queue_config"]["config"]["sasl_password"] == api.SECRET
    gossip = api.ok("POST", "/api/v1/dispatcher/gossip/", {"dispatcher_id": "d-1"})
    assert gossip["jobs"][0]["queue_config"]["config"]["sasl_password"] == api.SECRET


def test_update_with_the_masked_value_keeps_the_secret(api: Api) -> None:
    """Sending back a config as read (password masked) keeps the stored password."""
    job = _create_secret_job(api)
    queue_config = job["queue_config"]
    queue_config["config"]["topic"] = "payments-v2"
    api.ok("POST", "/api/v1/job/payments/", {"queue_config": queue_config})
    registered = api.ok(
        "POST", "/api/v1/dispatcher/register/", {"dispatcher_id": "d", "job_name": "payments"}
    )["job"]
    assert registered["version"] == 2
    assert registered["queue_config"]["config"]["topic"] == "payments-v2"
    assert registered["queue_config"]["config"]["sasl_password"] == api.SECRET


def test_update_with_a_new_password_replaces_it(api: Api) -> None:
    """A new password in an update is stored (and masked in the reply)."""
    _create_secret_job(api)
    reply = api.request(
        "POST",
        "/api/v1/job/payments/",
        json={"queue_config": api.sasl_config("payments", password="rotated-2")},
    )
    assert reply.status_code == 200 and "rotated-2" not in reply.text
    registered = api.ok(
        "POST", "/api/v1/dispatcher/register/", {"dispatcher_id": "d", "job_name": "payments"}
    )["job"]
    assert registered["queue_config"]["config"]["sasl_password"] == "rotated-2"


def test_cli_output_never_shows_the_password(api: Api, tmp_path: Any) -> None:
    """`jobqueue job create/get/list/versions`, as tables and as JSON, mask the password."""
    from click.testing import CliRunner

    definition = tmp_path / "job.json"
    definition.write_text(json.dumps(api.job_body("cli-secret", queue_config=api.sasl_config())))
    runner = CliRunner()
    outputs = []
    for args in (
        ["job", "create", "-f", str(definition)],
        ["job", "get", "cli-secret"],
        ["job", "get", "cli-secret", "--json"],
        ["job", "list"],
        ["job", "list", "--json"],
        ["job", "versions", "cli-secret", "--json"],
    ):
        result = runner.invoke(main, [*args, "--controller", api.url])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert all("cli-secret" in output for output in outputs)
    assert all(api.SECRET not in output for output in outputs)
    assert REDACTED in outputs[1] and REDACTED in outputs[2]


def test_validation_errors_do_not_echo_the_password(api: Api) -> None:
    """A rejected config is reported by field, without repeating the secret."""
    config = api.sasl_config()
    config["config"]["cluster_address"] = "not-a-list"
    response = api.request("POST", "/api/v1/job/", json=api.job_body("bad", queue_config=config))
    assert response.status_code == 400
    assert response.json()["field"] == "queue_config.config.cluster_address"
    assert api.SECRET not in response.text
