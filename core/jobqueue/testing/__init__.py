"""The broker conformance suite: the tests every jobqueue broker plugin passes.

Use it from a test module of your plugin by subclassing `BrokerConformance` and supplying
two fixtures; every ``test_*`` method of the suite then runs against your broker::

    from collections.abc import Callable

    import pytest

    from jobqueue.contract import Broker, BrokerContext
    from jobqueue.testing import BrokerConformance


    class TestMyBrokerConformance(BrokerConformance):
        @pytest.fixture
        def broker_factory(self, my_server: str) -> Callable[[], Broker]:
            # A NEW broker instance (new connections) on the same backend at each call;
            # the suite closes what it builds.
            return lambda: MyBroker(MyConfig(address=my_server, topic="unused"))

        @pytest.fixture
        def unreachable_broker_factory(self) -> Callable[[], Broker]:
            # Nothing listens there; every operation must raise BrokerUnavailable within
            # timeout_s plus a few seconds.
            context = BrokerContext(timeout_s=2.0)
            return lambda: MyBroker(MyConfig(address="127.0.0.1:9", topic="t"), context)

No ``pytest_plugins`` entry or conftest is needed: the class carries its own fixtures
(``conformance``, plus defaults for the two above that fail with a clear message until you
override them). Backends that are slow to hand out work may raise the class attributes
listed on `BrokerConformance` (deadlines only; the assertions stay the same).

Tests skip only by declaration: the 1 MiB test when ``capabilities.max_payload_bytes`` is
smaller, the ordering test when ``capabilities.ordering == "none"``, key checks when
``capabilities.keyed`` is false, the extend test when ``capabilities.record_leases`` is false.
The helpers (`drain`, `drain_until`, `collect_for`, ...) are public too, for a plugin's own tests.
"""

from __future__ import annotations

import pytest

# Before the imports below, so that pytest rewrites their asserts into readable failures.
pytest.register_assert_rewrite(
    *(
        f"jobqueue.testing.{name}"
        for name in ("base", "delivery_tests", "group_tests", "lifecycle_tests", "helpers")
    )
)

from jobqueue.testing.conformance import BrokerConformance  # noqa: E402
from jobqueue.testing.harness import Harness  # noqa: E402
from jobqueue.testing.helpers import (  # noqa: E402
    collect_for,
    drain,
    drain_until,
    numbered,
    payloads,
    poll_checked,
    unique_name,
)

__all__ = [
    "BrokerConformance",
    "Harness",
    "collect_for",
    "drain",
    "drain_until",
    "numbered",
    "payloads",
    "poll_checked",
    "unique_name",
]
