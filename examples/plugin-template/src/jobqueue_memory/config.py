"""``queue_config.config`` of a memory job: validated by msgspec before anything is stored.

The controller rejects a job whose config does not convert to `MemoryConfig` with a 400
naming the field, so a typo never reaches a dispatcher.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from jobqueue.contract import BrokerConfig

BROKER_NAME = "memory"

Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="letters, digits, '.', '_', '-'",
    ),
]


class MemoryConfig(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    """``topic``: the job's main topic. ``store``: which in-process store holds the topics
    (stores are per process; two names are two independent brokers)."""

    topic: Name
    store: Name = "default"

    def main_topic(self) -> str:
        return self.topic

    def address(self) -> str:
        return f"memory://{self.store}"
