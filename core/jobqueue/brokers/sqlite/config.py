"""The embedded broker's ``queue_config.config``: which topic, and which file holds it."""

from __future__ import annotations

import os
import re
from typing import Annotated

import msgspec

from jobqueue.contract import BrokerConfig, BrokerContext
from jobqueue.errors import BrokerConfigError

BROKER_NAME = "sqlite"
DEFAULT_FILE = "broker.db"
TOPIC_PATTERN = r"^[A-Za-z0-9._-]+$"
TOPIC_MAX_LENGTH = 249
_TOPIC_RE = re.compile(TOPIC_PATTERN)

TopicName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=TOPIC_MAX_LENGTH,
        pattern=TOPIC_PATTERN,
        description="letters, digits, '-', '_', '.'",
    ),
]


class SqliteConfig(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    """``topic``: the job's main topic. ``path``: the database file; by default
    ``<data_dir>/broker.db`` of the process that opens it (see `BrokerContext.data_dir`)."""

    topic: TopicName
    path: Annotated[str, msgspec.Meta(min_length=1)] | None = None

    def main_topic(self) -> str:
        return self.topic

    def address(self) -> str:
        return self.path if self.path is not None else os.path.join("<data_dir>", DEFAULT_FILE)


def check_config(config: SqliteConfig) -> None:
    """Checks msgspec cannot express; raises `BrokerConfigError` naming the field."""
    check_topic(config.topic)
    if config.path is None:
        return
    if not config.path.strip():
        raise BrokerConfigError(BROKER_NAME, "must not be empty", "path")
    if config.path.strip() == ":memory:":
        # Each connection would get its own private database: nothing would be shared.
        raise BrokerConfigError(BROKER_NAME, "an in-memory database cannot be shared", "path")
    if "\x00" in config.path:
        raise BrokerConfigError(BROKER_NAME, "contains a NUL character", "path")


def check_topic(topic: str, field: str = "topic") -> None:
    """Raise `BrokerConfigError` unless ``topic`` is a valid topic name."""
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic):
        raise BrokerConfigError(
            BROKER_NAME, f"{topic!r} is not a topic name (letters, digits, '-', '_', '.')", field
        )
    if len(topic) > TOPIC_MAX_LENGTH:
        raise BrokerConfigError(
            BROKER_NAME, f"topic name longer than {TOPIC_MAX_LENGTH} characters", field
        )


def resolve_path(config: SqliteConfig, context: BrokerContext) -> str:
    """The absolute path of the database file this config points at."""
    raw = config.path if config.path is not None else os.path.join(context.data_dir, DEFAULT_FILE)
    return os.path.abspath(os.path.expanduser(raw))
