"""The Redis broker's ``queue_config.config``: validated once, secrets kept out of sight.

The password lives inside ``url`` (``redis://user:password@host:port/db``, ``rediss://`` for
TLS, ``unix:///path/redis.sock?password=...``), so `address` rebuilds the URL without
credentials and `redacted` masks only the password, keeping the rest readable.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import msgspec

from jobqueue.contract import REDACTED, BrokerConfig
from jobqueue.errors import BrokerConfigError

BROKER_NAME = "redis"
KEY_PREFIX = "jobqueue"
SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PORT = 6379
DEFAULT_RETENTION_MS = 5 * 60 * 1000


class RedisConfig(BrokerConfig):
    """Where the Redis server is and which stream is the job's main topic.

    ``url``: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS or
    ``unix://[[user]:password@]/path?db=0``; redis-py query options (``ssl_ca_certs=...``) pass
    through. ``stream``: the main topic; it is also the Redis Cluster hash tag shared by every
    key of the job. ``maxlen``: optional approximate cap on each stream's length (``XADD MAXLEN
    ~``); entries beyond it are dropped even when not yet acknowledged, so leave it unset
    unless memory matters more than delivery. ``retention_ms``: how long an entry that every
    consumer group has acknowledged stays in the stream, readable by a group created later
    (a new job on the topic); 0 trims it as soon as the last group acknowledges it.
    """

    __secret_fields__: ClassVar[frozenset[str]] = frozenset({"url"})

    url: str
    stream: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    maxlen: Annotated[int, msgspec.Meta(ge=1)] | None = None
    retention_ms: Annotated[int, msgspec.Meta(ge=0)] = DEFAULT_RETENTION_MS

    def __post_init__(self) -> None:
        _check_url(self.url)
        if "{" in self.stream or "}" in self.stream:
            raise BrokerConfigError(
                BROKER_NAME, "must not contain `{` or `}` (it is the key's hash tag)", "stream"
            )

    def main_topic(self) -> str:
        return self.stream

    def address(self) -> str:
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return f"unix://{parts.path}"
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        db = parts.path.strip("/") or dict(parse_qsl(parts.query)).get("db", "0")
        return f"{parts.scheme}://{host}:{parts.port or DEFAULT_PORT}/{db}"

    def redacted(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        data["url"] = _redact_url(self.url)
        return data

    def secrets(self) -> tuple[str, ...]:
        """Every spelling of the password, to scrub from messages that quote the server."""
        parts = urlsplit(self.url)
        found = [parts.password or "", dict(parse_qsl(parts.query)).get("password", "")]
        spellings = {s for raw in found if raw for s in (raw, unquote(raw))}
        return tuple(sorted(spellings, key=len, reverse=True))

    def key(self, topic: str) -> str:
        """The stream key of ``topic``; the ``{stream}`` hash tag keeps a job in one slot."""
        return f"{KEY_PREFIX}:{{{self.stream}}}:{topic}"


def _check_url(url: str) -> None:
    def bad(reason: str) -> BrokerConfigError:
        return BrokerConfigError(BROKER_NAME, reason, "url")

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise bad("not a valid URL (check the port)") from None
    if parts.scheme not in SCHEMES:
        raise bad("scheme must be one of " + ", ".join(f"{s}://" for s in SCHEMES))
    if parts.scheme == "unix":
        if not parts.path:
            raise bad("a unix:// URL needs the socket path")
        return
    if not parts.hostname:
        raise bad("missing host")
    if port == 0:
        raise bad("port must be between 1 and 65535")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise bad("the path must be a database number, e.g. /0")


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        credentials, _, location = netloc.rpartition("@")
        user = credentials.partition(":")[0]
        netloc = f"{user}:{REDACTED}@{location}"
    query = parts.query
    if query:
        pairs = [(k, REDACTED if k == "password" else v) for k, v in parse_qsl(query)]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
