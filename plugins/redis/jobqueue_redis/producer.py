"""Publishing: one pipelined round trip of ``XADD`` per batch, failures reported per record."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from jobqueue.contract import Producer, Record
from jobqueue.errors import PublishFailed
from jobqueue_redis._errors import describe
from jobqueue_redis.config import BROKER_NAME, RedisConfig
from jobqueue_redis.entries import encode


class RedisProducer(Producer):
    """Appends records to one stream.

    The records of a batch go out in one non-transactional pipeline: Redis applies them in
    order, and each ``XADD`` that the server rejects is reported by its index. Once ``publish``
    returns, the server holds every record in memory and in its AOF as far as its
    ``appendfsync`` setting promises (``always`` for no loss on a crash).
    """

    def __init__(self, client: redis.Redis, config: RedisConfig, topic: str) -> None:
        self._client = client
        self._config = config
        self._key = config.key(topic)

    def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        pipe = self._client.pipeline(transaction=False)
        for record in records:
            pipe.xadd(self._key, encode(record), maxlen=self._config.maxlen, approximate=True)
        try:
            results = pipe.execute(raise_on_error=False)
        except (redis.RedisError, OSError) as exc:
            # The connection failed mid-batch: which records the server applied is unknown.
            reason = describe(exc, self._config.secrets())
            raise PublishFailed(
                BROKER_NAME, self._config.address(), range(len(records)), reason
            ) from exc
        failed = [index for index, result in enumerate(results) if isinstance(result, Exception)]
        if failed:
            reason = describe(results[failed[0]], self._config.secrets())
            raise PublishFailed(BROKER_NAME, self._config.address(), failed, reason)

    def close(self) -> None:
        """Nothing to release: the connections belong to the broker's pool."""
        return None
