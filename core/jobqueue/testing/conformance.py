"""`BrokerConformance`: the behaviour tests every broker plugin passes.

Mixed into a test class per broker (see `jobqueue.testing` for how); each test builds its own
topics and groups, so the tests share nothing but the backend. The tests live in three
mixins by theme; this class only puts them together.
"""

from __future__ import annotations

from jobqueue.testing.delivery_tests import DeliveryTests
from jobqueue.testing.group_tests import GroupTests
from jobqueue.testing.lifecycle_tests import LifecycleTests


class BrokerConformance(DeliveryTests, GroupTests, LifecycleTests):
    """The conformance suite; subclass it as ``Test<Name>Conformance`` and supply fixtures.

    Tuning knobs (class attributes; override for slow backends, never to weaken a test):

    ``delivery_deadline_s``   how long to keep polling for records that must arrive.
    ``quiet_s``               how long to keep polling to show that nothing else arrives.
    ``poll_timeout_s``        the ``timeout_s`` of each poll inside those loops.
    ``poll_slack_s``          how late an empty poll may return after its timeout.
    ``delivery_latency_s``    how soon a waiting poll must return a record published meanwhile.
    ``unreachable_slack_s``   how long past ``context.timeout_s`` an unreachable broker may
                              take to raise `BrokerUnavailable`.
    ``lease_ms``              the short lease of the lease-expiry test.
    """
