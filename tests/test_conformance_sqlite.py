"""The broker conformance suite on the embedded SQLite broker (a fresh file per test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jobqueue.brokers.sqlite import SqliteBroker, SqliteConfig
from jobqueue.contract import Broker, BrokerContext
from jobqueue.testing import BrokerConformance


class TestSqliteConformance(BrokerConformance):
    quiet_s = 1.0
    delivery_deadline_s = 10.0

    @pytest.fixture
    def broker_factory(self, tmp_path: Path) -> Callable[[], Broker]:
        path = str(tmp_path / "broker.db")
        return lambda: SqliteBroker(SqliteConfig(topic="unused", path=path))

    @pytest.fixture
    def unreachable_broker_factory(self, tmp_path: Path) -> Callable[[], Broker]:
        blocker = tmp_path / "a-file"
        blocker.write_bytes(b"")
        # The database's directory would have to be created inside a regular file.
        path = str(blocker / "sub" / "broker.db")
        context = BrokerContext(timeout_s=2.0)
        return lambda: SqliteBroker(SqliteConfig(topic="unused", path=path), context)
