"""KafkaConfig: shape, librdkafka settings checked without a connection, secrets masked."""

from __future__ import annotations

from typing import Any

import pytest

from jobqueue.contract import REDACTED
from jobqueue.errors import BrokerConfigError
from jobqueue.plugins import load_brokers
from jobqueue_kafka import KafkaBroker, KafkaConfig

VALID: dict[str, Any] = {"cluster_address": ["localhost:9092"], "topic": "orders"}


def parse(**changes: Any) -> KafkaConfig:
    return KafkaBroker.parse_config({**VALID, **changes})


def test_original_shape_parses_with_defaults() -> None:
    """The original service's {cluster_address, topic, config} parses; defaults fill the rest."""
    config = parse(config={"socket.timeout.ms": 5000})
    assert config.main_topic() == "orders"
    assert config.address() == "localhost:9092"
    assert config.config == {"socket.timeout.ms": 5000}
    assert config.partitions == 6
    assert config.replication_factor == -1


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"topic": "orders"}, "cluster_address"),
        ({**VALID, "cluster_address": []}, "cluster_address"),
        ({**VALID, "cluster_address": ["no-port"]}, "cluster_address[0]"),
        ({**VALID, "topic": "has space"}, "topic"),
        ({**VALID, "partitions": 0}, "partitions"),
        ({**VALID, "config": {"sasl.mechanism": ["PLAIN"]}}, "config[...]"),
        ({**VALID, "brokers": ["x:1"]}, "brokers"),
    ],
)
def test_bad_shape_names_the_field(raw: dict[str, Any], field: str) -> None:
    """A config of the wrong shape is a BrokerConfigError naming the field."""
    with pytest.raises(BrokerConfigError) as caught:
        KafkaBroker.parse_config(raw)
    assert caught.value.broker == "kafka"
    assert caught.value.field == field


def test_unknown_librdkafka_key_is_named() -> None:
    """A librdkafka key that does not exist is rejected at parse time, naming it."""
    with pytest.raises(BrokerConfigError) as caught:
        parse(config={"socket.timeout.ms": 5000, "sesion.timeout.ms": 6000})
    assert caught.value.field == "config.sesion.timeout.ms"
    assert "sesion.timeout.ms" in str(caught.value)


def test_bad_librdkafka_value_names_the_users_key() -> None:
    """An invalid value is reported under the key the job used, not librdkafka's alias."""
    with pytest.raises(BrokerConfigError) as caught:
        parse(config={"linger.ms": 5, "compression.type": "zip"})
    assert caught.value.field == "config.compression.type"


def test_broker_construction_validates_too() -> None:
    """A KafkaConfig built in code (not parsed) is still checked when the broker is made."""
    config = KafkaConfig(cluster_address=["localhost:9092"], topic="t", config={"nope": 1})
    with pytest.raises(BrokerConfigError) as caught:
        KafkaBroker(config)
    assert caught.value.field == "config.nope"


@pytest.mark.parametrize(
    "key", ["bootstrap.servers", "group.id", "enable.auto.commit", "acks", "plugin.library.paths"]
)
def test_settings_the_plugin_owns_are_refused(key: str) -> None:
    """Keys that would break the delivery guarantees (or load code) cannot come from a job."""
    with pytest.raises(BrokerConfigError) as caught:
        parse(config={key: "x"})
    assert caught.value.field == f"config.{key}"


def test_replication_factor_zero_is_refused() -> None:
    """replication_factor is >= 1 or -1 (the cluster's default)."""
    with pytest.raises(BrokerConfigError) as caught:
        parse(replication_factor=0)
    assert caught.value.field == "replication_factor"


def test_secrets_are_masked() -> None:
    """Passwords and client secrets never appear in the redacted config."""
    config = parse(
        config={
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "svc",
            "sasl.password": "hunter2-sasl",
            "ssl.key.password": "hunter2-key",
            "sasl.oauthbearer.client.secret": "hunter2-oauth",
        }
    )
    redacted = config.redacted()
    assert redacted["config"]["sasl.password"] == REDACTED
    assert redacted["config"]["ssl.key.password"] == REDACTED
    assert redacted["config"]["sasl.oauthbearer.client.secret"] == REDACTED
    assert redacted["config"]["sasl.username"] == "svc"
    assert redacted["cluster_address"] == ["localhost:9092"]
    assert "hunter2" not in repr(redacted)
    assert config.config["sasl.password"] == "hunter2-sasl"  # the config itself is untouched


def test_errors_do_not_echo_secrets() -> None:
    """A config error elsewhere in a config holding secrets does not repeat them."""
    with pytest.raises(BrokerConfigError) as caught:
        parse(config={"sasl.password": "hunter2", "security.protocol": "NOPE"})
    assert caught.value.field == "config.security.protocol"
    assert "hunter2" not in str(caught.value)


def test_plugin_is_discovered_through_its_entry_point() -> None:
    """The installed distribution registers the kafka broker in the jobqueue group."""
    registry = load_brokers()
    assert registry.get("kafka") is KafkaBroker
    assert registry.brokers["kafka"].distribution == "jobqueue-kafka"
