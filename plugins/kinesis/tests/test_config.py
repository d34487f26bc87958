"""Config validation names the field; secrets never show; the plugin registers by entry point."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobqueue.contract import REDACTED, BrokerContext
from jobqueue.errors import BrokerConfigError, BrokerUnavailable
from jobqueue.plugins import load_brokers
from jobqueue_kinesis import KinesisBroker, KinesisConfig

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BASE: dict[str, Any] = {"stream_name": "orders", "region": "eu-west-1"}


def _error(raw: dict[str, Any]) -> BrokerConfigError:
    with pytest.raises(BrokerConfigError) as raised:
        KinesisBroker.parse_config(raw)
    return raised.value


def test_minimal_config_and_defaults() -> None:
    """A stream name is enough; the lease table is derived from it."""
    config = KinesisBroker.parse_config({"stream_name": "orders"})
    assert isinstance(config, KinesisConfig)
    assert config.main_topic() == "orders"
    assert config.region == "us-east-1"
    assert config.lease_table_name() == "jobqueue-leases-orders"
    assert config.address() == "kinesis.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"region": "us-east-1"}, "stream_name"),
        (BASE | {"stream_name": "bad name!"}, "stream_name"),
        (BASE | {"region": "Europe"}, "region"),
        (BASE | {"endpoint_url": "localhost:4566"}, "endpoint_url"),
        (BASE | {"lease_table": "x"}, "lease_table"),
        (BASE | {"shard_count": 0}, "shard_count"),
        (BASE | {"publish_attempts": 0}, "publish_attempts"),
        (BASE | {"streams": ["a"]}, "streams"),
        (BASE | {"aws_access_key_id": "AKIA"}, "aws_secret_access_key"),
        (BASE | {"aws_secret_access_key": SECRET}, "aws_access_key_id"),
        (BASE | {"aws_session_token": "token"}, "aws_access_key_id"),
    ],
)
def test_invalid_config_names_the_field(raw: dict[str, Any], field: str) -> None:
    """Each kind of mistake is reported against the field that holds it."""
    error = _error(raw)
    assert error.field == field
    assert error.broker == "kinesis"
    assert field in str(error)


def test_secret_errors_do_not_echo_the_secret() -> None:
    """A half-given key pair is reported without repeating the half that was given."""
    assert SECRET not in str(_error(BASE | {"aws_secret_access_key": SECRET}))


def test_secrets_are_masked_in_redacted_and_repr() -> None:
    """Keys and tokens are replaced in what may be returned or logged, credentials in URLs too."""
    config = KinesisConfig(
        stream_name="orders",
        endpoint_url="https://user:pw@kinesis.example.com",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key=SECRET,
        aws_session_token="session-token",
    )
    shown = config.redacted()
    assert shown["aws_access_key_id"] == REDACTED
    assert shown["aws_secret_access_key"] == REDACTED
    assert shown["aws_session_token"] == REDACTED
    assert shown["endpoint_url"] == "https://kinesis.example.com"
    for text in (repr(config), str(config), str(shown), config.address()):
        assert SECRET not in text
        assert "pw@" not in text
        assert "AKIAEXAMPLE" not in text


def test_unreachable_errors_name_broker_and_address_but_no_secret(dead_endpoint: str) -> None:
    """An outage fails fast and says which broker and where, nothing about the credentials."""
    config = KinesisConfig(
        stream_name="orders",
        endpoint_url=dead_endpoint,
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key=SECRET,
    )
    broker = KinesisBroker(config, BrokerContext(timeout_s=1.0))
    started = time.monotonic()
    try:
        with pytest.raises(BrokerUnavailable) as raised:
            broker.ensure_topics(["orders"])
    finally:
        broker.close()
    assert time.monotonic() - started < 1.0 + 5.0
    assert raised.value.broker == "kinesis"
    assert raised.value.address == dead_endpoint
    assert dead_endpoint in str(raised.value)
    assert SECRET not in str(raised.value) and "AKIAEXAMPLE" not in str(raised.value)


def test_topic_that_is_no_stream_name_is_a_config_error() -> None:
    """Topic names become stream names, so they follow the Kinesis naming rules."""
    broker = KinesisBroker(KinesisConfig(stream_name="orders"))
    try:
        with pytest.raises(BrokerConfigError) as raised:
            broker.producer("no spaces allowed")
        assert raised.value.field == "topic"
        with pytest.raises(BrokerConfigError):
            broker.consumer("orders", "")
    finally:
        broker.close()


def test_missing_credentials_are_a_config_error(
    monkeypatch: pytest.MonkeyPatch, dead_endpoint: str, tmp_path: Any
) -> None:
    """Without keys in the config or the AWS chain the error is about credentials, not an outage."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    broker = KinesisBroker(KinesisConfig(stream_name="orders", endpoint_url=dead_endpoint))
    try:
        with pytest.raises(BrokerConfigError) as raised:
            broker.producer("orders").publish([])
            broker.ensure_topics(["orders"])
    finally:
        broker.close()
    assert raised.value.field == "aws_access_key_id"
    assert "credentials" in str(raised.value)


def test_plugin_is_found_through_its_entry_point() -> None:
    """The installed distribution registers `kinesis` in the `jobqueue` entry-point group."""
    registry = load_brokers()
    info = registry.brokers["kinesis"]
    assert info.cls is KinesisBroker
    assert info.distribution == "jobqueue-kinesis"
    config = registry.parse_config("kinesis", {"stream_name": "orders"})
    assert isinstance(config, KinesisConfig)
