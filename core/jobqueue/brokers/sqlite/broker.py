"""`SqliteBroker`: the embedded broker, one SQLite file shared by the processes of one host.

Every producer and consumer owns its own connection (WAL mode, ``synchronous=FULL``), so
producers and consumers may live on different threads or in different processes. Consumer
groups lease rows (see `jobqueue.brokers.sqlite.leases`); a new group starts at the oldest
retained record, like Kafka's ``auto.offset.reset=earliest``.

Retention: a record is deleted once every group that ever read its topic has acked it and
every older record of the topic; records of a topic nobody reads yet are kept. A group that
stops reading for good keeps its topic's records on disk.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import ClassVar

from jobqueue.brokers.sqlite import leases
from jobqueue.brokers.sqlite.clock import now_ms
from jobqueue.brokers.sqlite.config import (
    BROKER_NAME,
    SqliteConfig,
    check_config,
    check_topic,
    resolve_path,
)
from jobqueue.brokers.sqlite.connection import Database
from jobqueue.brokers.sqlite.consumer import SqliteConsumer
from jobqueue.brokers.sqlite.producer import SqliteProducer
from jobqueue.brokers.sqlite.schema import ensure_schema, topic_id
from jobqueue.contract import Broker, BrokerConfig, BrokerContext, Capabilities
from jobqueue.errors import BrokerConfigError

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_GROUP_LENGTH = 255


class SqliteBroker(Broker):
    """The embedded broker; ``config.path`` defaults to ``<context.data_dir>/broker.db``."""

    name: ClassVar[str] = BROKER_NAME
    config_type: ClassVar[type[BrokerConfig]] = SqliteConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_payload_bytes=MAX_PAYLOAD_BYTES, ordering="key", keyed=True
    )

    def __init__(self, config: BrokerConfig, context: BrokerContext | None = None) -> None:
        if not isinstance(config, SqliteConfig):
            raise BrokerConfigError(BROKER_NAME, f"expected SqliteConfig, got {type(config)!r}")
        check_config(config)
        super().__init__(config, context)
        self.path = resolve_path(config, self.context)
        self._lock = threading.Lock()
        self._schema_ready = False
        self._admin: Database | None = None

    @classmethod
    def parse_config(cls, raw: object) -> SqliteConfig:
        config = super().parse_config(raw)
        assert isinstance(config, SqliteConfig)  # config_type is SqliteConfig
        check_config(config)
        return config

    def _open(self, what: str) -> Database:
        db = Database(self.path, self.context.timeout_s, what)
        try:
            with self._lock:
                if not self._schema_ready:
                    ensure_schema(db)
                    self._schema_ready = True
        except BaseException:
            db.close()
            raise
        return db

    def producer(self, topic: str) -> SqliteProducer:
        check_topic(topic)
        db = self._open("producer")
        try:
            return SqliteProducer(db, topic, topic_id(db, topic, now_ms()), MAX_PAYLOAD_BYTES)
        except BaseException:
            db.close()
            raise

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> SqliteConsumer:
        check_topic(topic)
        if not group or len(group) > MAX_GROUP_LENGTH:
            raise BrokerConfigError(
                BROKER_NAME, f"group name must have 1 to {MAX_GROUP_LENGTH} characters", "group"
            )
        if lease_ms < 1:
            raise BrokerConfigError(BROKER_NAME, "must be at least 1 ms", "lease_ms")
        db = self._open("consumer")
        try:
            ref = leases.GroupRef(
                topic_id(db, topic, now_ms()),
                group,
                f"{self.context.instance_id}-{uuid.uuid4().hex[:12]}",
            )
            with db.write() as conn:
                leases.register_group(conn, ref, now_ms())
            return SqliteConsumer(db, ref, topic, lease_ms)
        except BaseException:
            db.close()
            raise

    def ensure_topics(self, topics: Sequence[str]) -> None:
        for topic in topics:
            check_topic(topic)
        with self._lock:
            if self._admin is None:
                self._admin = Database(self.path, self.context.timeout_s, "broker")
            admin = self._admin
            if not self._schema_ready:
                ensure_schema(admin)
                self._schema_ready = True
        for topic in topics:
            topic_id(admin, topic, now_ms())

    def close(self) -> None:
        with self._lock:
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()
