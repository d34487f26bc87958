"""A job's new version starts reading only after the old one closed; if the broker refuses it
then, the next sync opens it again instead of leaving the job unserved.

The broker is the real embedded one; the only injected fault is a `BrokerUnavailable` from
`consumer()` while the test says the broker is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.contract import Consumer
from jobqueue.dispatcher.service import Dispatcher, DispatcherSettings, Subscription
from jobqueue.errors import BrokerUnavailable
from jobqueue.models import Job, QueueConfig, RetryConfig
from jobqueue.plugins import BrokerInfo, BrokerRegistry


class FlakySqlite(SqliteBroker):
    """The embedded broker, refusing new consumers while ``down`` is set."""

    name: ClassVar[str] = "flaky"
    down: ClassVar[bool] = False

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> Consumer:
        if FlakySqlite.down:
            raise BrokerUnavailable(self.name, self.config.address(), "down for the test")
        return super().consumer(topic, group, lease_ms=lease_ms)


def _job(version: int, backoffs: Sequence[int]) -> Job:
    return Job(
        id=version, name="switch", type="consumer", state="active", version=version,
        queue_config=QueueConfig(type="flaky", config={"topic": "switch"}),
        retry_config=RetryConfig(backoffs=list(backoffs)), max_processing_time=5000,
    )  # fmt: skip


def test_a_new_version_the_broker_refused_is_opened_again_at_the_next_sync(
    tmp_path: Path,
) -> None:
    registry = BrokerRegistry({"flaky": BrokerInfo("flaky", FlakySqlite, "tests", "0")})
    dispatcher = Dispatcher(DispatcherSettings(data_dir=str(tmp_path)), registry)

    async def run() -> tuple[bool, bool, bool]:
        first = await dispatcher._open(_job(1, [100]))
        dispatcher.subscriptions["switch"] = Subscription(_job(1, [100]), first)
        try:
            FlakySqlite.down = True
            await dispatcher._follow(_job(2, [100, 200]))  # opens v2, retires v1
            await asyncio.gather(*dispatcher._background)
            refused = dispatcher.subscriptions["switch"].current
            FlakySqlite.down = False
            await dispatcher._follow(_job(2, [100, 200]))  # the next sync: same version
            await asyncio.gather(*dispatcher._background)
            current = dispatcher.subscriptions["switch"].current
            return refused.closed, current.consuming, current is refused
        finally:
            FlakySqlite.down = False
            for worklet in dispatcher.subscriptions["switch"].worklets():
                await worklet.close()

    refused_closed, consuming, same = asyncio.run(run())
    assert refused_closed, "the refused version should have closed itself"
    assert consuming and not same, "the next sync should open the version again and read"
