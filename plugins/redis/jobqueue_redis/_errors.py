"""Mapping redis-py's exceptions, once, to jobqueue's typed errors.

Every call into redis-py runs inside `translated`, so no redis-py exception reaches the
dispatcher; the reason quotes the server or the socket error, with the password scrubbed out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis.exceptions

from jobqueue.contract import REDACTED
from jobqueue.errors import BrokerUnavailable
from jobqueue_redis.config import BROKER_NAME, RedisConfig


def describe(exc: BaseException, secrets: Sequence[str]) -> str:
    """A one-line reason for ``exc`` that never contains any of ``secrets``."""
    text = f"{type(exc).__name__}: {exc}".strip()
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def unavailable(config: RedisConfig, exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(BROKER_NAME, config.address(), describe(exc, config.secrets()))


@contextmanager
def translated(config: RedisConfig) -> Iterator[None]:
    """Re-raise any redis-py error as `BrokerUnavailable` naming the broker and address."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise unavailable(config, exc) from exc
    except OSError as exc:  # e.g. TLS set-up failures that redis-py lets through
        raise unavailable(config, exc) from exc
