"""Opening and closing librdkafka clients the same way everywhere.

librdkafka connects lazily and retries forever in the background, so a client for a cluster
that is not there is created without error; `reachable` bounds the question with a metadata
request, turning silence into `BrokerUnavailable` within the context's timeout.
"""

from __future__ import annotations

from typing import Any, Protocol

import confluent_kafka as ck

from jobqueue_kafka.config import KafkaConfig
from jobqueue_kafka.failures import describe, unavailable


class _HasMetadata(Protocol):
    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...


def reachable(client: _HasMetadata, config: KafkaConfig, timeout_s: float) -> Any:
    """Cluster metadata from ``client``, or `BrokerUnavailable` after ``timeout_s``."""
    try:
        return client.list_topics(timeout=timeout_s)
    except ck.KafkaException as exc:
        raise unavailable(config, f"no metadata within {timeout_s:g}s ({describe(exc)})") from exc


def close(client: object) -> None:
    """Destroy a client; older confluent-kafka producers have no ``close`` and go on release."""
    closer = getattr(client, "close", None)
    if closer is not None:
        closer()
