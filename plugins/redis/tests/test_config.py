"""RedisConfig: validation errors name the field; the password never shows."""

from __future__ import annotations

from typing import Any

import pytest

from jobqueue.contract import REDACTED
from jobqueue.errors import BrokerConfigError
from jobqueue_redis import RedisBroker, RedisConfig

GOOD = {"url": "redis://127.0.0.1:6379/0", "stream": "orders"}


def config_error(raw: dict[str, Any]) -> BrokerConfigError:
    with pytest.raises(BrokerConfigError) as info:
        RedisBroker.parse_config(raw)
    return info.value


def test_valid_config_parses() -> None:
    """A plain URL and stream give a config whose main topic is the stream."""
    config = RedisBroker.parse_config({**GOOD, "maxlen": 1000})
    assert isinstance(config, RedisConfig)
    assert config.main_topic() == "orders"
    assert config.maxlen == 1000
    assert config.address() == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"stream": "orders"}, "url"),
        ({"url": "redis://h:1/0"}, "stream"),
        ({**GOOD, "url": 6379}, "url"),
        ({**GOOD, "url": "http://127.0.0.1:6379"}, "url"),
        ({**GOOD, "url": "redis://:6379/0"}, "url"),
        ({**GOOD, "url": "redis://host:notaport/0"}, "url"),
        ({**GOOD, "url": "redis://host:6379/zero"}, "url"),
        ({**GOOD, "url": "unix://"}, "url"),
        ({**GOOD, "stream": ""}, "stream"),
        ({**GOOD, "stream": "a{b}"}, "stream"),
        ({**GOOD, "maxlen": 0}, "maxlen"),
        ({**GOOD, "maxlen": "many"}, "maxlen"),
        ({**GOOD, "brokers": ["x"]}, "brokers"),
    ],
)
def test_config_errors_name_the_field(raw: dict[str, Any], field: str) -> None:
    """Every invalid value is reported as BrokerConfigError naming the broker and the field."""
    error = config_error(raw)
    assert error.broker == "redis"
    assert error.field == field
    assert f"`{field}`" in str(error)


def test_url_error_does_not_echo_the_password() -> None:
    """A rejected URL is not quoted back, since it may carry the password."""
    error = config_error({**GOOD, "url": "http://:hunter2@127.0.0.1:6379/0"})
    assert "hunter2" not in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@db.internal:6380/2",
        "redis://app:hunter2@db.internal:6380/2",
        "rediss://app:hunter2@db.internal:6380/2?ssl_cert_reqs=required",
        "redis://:hunter%402@db.internal:6380/2",
        "unix://:hunter2@/run/redis.sock?db=1",
        "unix:///run/redis.sock?db=1&password=hunter2",
    ],
)
def test_password_masked_in_redacted_and_absent_from_address(url: str) -> None:
    """redacted() masks only the password; address() drops the credentials entirely."""
    config = RedisConfig(url=url, stream="orders")
    redacted = config.redacted()
    for text in (repr(redacted), config.address()):
        assert "hunter" not in text
    assert REDACTED in redacted["url"]
    assert redacted["stream"] == "orders"
    assert "app" not in config.address()


def test_address_keeps_what_locates_the_server() -> None:
    """address() shows scheme, host, port and database, defaulting the port."""
    assert RedisConfig(url="rediss://:pw@db:6380/3", stream="s").address() == "rediss://db:6380/3"
    assert RedisConfig(url="redis://db", stream="s").address() == "redis://db:6379/0"
    assert RedisConfig(url="redis://[::1]:7000", stream="s").address() == "redis://[::1]:7000/0"
    assert RedisConfig(url="unix:///run/r.sock", stream="s").address() == "unix:///run/r.sock"


def test_redacted_url_keeps_user_host_and_options() -> None:
    """The masked URL is still useful for debugging: user, host, port, db and options stay."""
    config = RedisConfig(url="rediss://app:pw@db:6380/3?ssl_cert_reqs=none", stream="s")
    assert config.redacted()["url"] == (f"rediss://app:{REDACTED}@db:6380/3?ssl_cert_reqs=none")


def test_secrets_lists_raw_and_decoded_password() -> None:
    """A percent-encoded password is scrubbed in both spellings."""
    config = RedisConfig(url="redis://:p%40ss@db:6379/0", stream="s")
    assert set(config.secrets()) == {"p%40ss", "p@ss"}


def test_keys_share_the_stream_hash_tag() -> None:
    """Every topic of one job maps to a key tagged with the job's stream: one cluster slot."""
    from redis.crc import key_slot

    config = RedisConfig(url="redis://db", stream="orders")
    keys = [config.key(topic) for topic in ("orders", "job_retry_0", "job_dlq", "job_ack")]
    assert keys[0] == "jobqueue:{orders}:orders"
    assert len({key_slot(key.encode()) for key in keys}) == 1


@pytest.mark.parametrize(
    ("query", "reason"),
    [("socket_timeout=0.5", "socket_timeout"), ("db=abc", "bad URL option")],
)
def test_url_options_that_cannot_work_are_config_errors(query: str, reason: str) -> None:
    """A URL option that breaks blocking reads, or cannot be parsed, names the `url` field."""
    config = RedisConfig(url=f"redis://:hunter2@127.0.0.1:6379/0?{query}", stream="s")
    with pytest.raises(BrokerConfigError) as info:
        RedisBroker(config)
    assert info.value.field == "url"
    assert reason in str(info.value)
    assert "hunter2" not in str(info.value)
