"""The poll strategy (`PollPlan`): retry queues first, main never starved, retry queues
rotated, the number of retry queues discovered, a failing DLQ handler backed off."""

from __future__ import annotations

from jobqueue.client._plan import DLQ, MAIN, PollPlan
from jobqueue.models.job import MAX_RETRY_QUEUES


def test_due_retries_come_before_main_which_long_polls_last() -> None:
    """A normal round: each retry queue (no wait), then main (the long poll)."""
    plan = PollPlan(2, with_dlq=False)
    assert plan.round(0.0) == [0, 1, MAIN]


def test_main_goes_first_after_retries_filled_every_slot() -> None:
    """If retries took every slot so main was not polled, main leads the next round; then
    retries lead again: under load the two alternate and neither starves."""
    plan = PollPlan(1, with_dlq=False)
    plan.round(0.0)
    plan.end_round(main_polled=False)
    assert plan.round(0.0)[0] == MAIN
    plan.end_round(main_polled=True)
    assert plan.round(0.0)[-1] == MAIN


def test_retry_queues_and_dlq_rotate_so_none_starves() -> None:
    """The secondary queues start one later each round: each leads in turn."""
    plan = PollPlan(2, with_dlq=True)
    leaders = []
    for _ in range(3):
        leaders.append(plan.round(0.0)[0])
        plan.end_round(main_polled=True)
    assert leaders == [0, 1, DLQ]


def test_retry_queue_count_is_discovered_then_probed_for_growth() -> None:
    """Unknown count: indexes in order until one is missing; afterwards the next index is
    probed once per probe interval (a new job version may add queues)."""
    plan = PollPlan(None, with_dlq=False, probe_every_s=30.0)
    assert plan.round(0.0) == [*range(MAX_RETRY_QUEUES), MAIN]
    plan.retry_queue_missing(2)
    assert not plan.wanted(3) and plan.wanted(1)
    plan.end_round(main_polled=True)
    first = plan.round(10.0)
    assert sorted(s for s in first if isinstance(s, int)) == [0, 1, 2]  # 2 is the probe
    plan.end_round(main_polled=True)
    assert 2 not in plan.round(20.0), "probed again before the interval"
    plan.retry_queue_exists(2)
    assert plan.known == 3


def test_given_retry_queue_count_is_never_probed() -> None:
    """With an explicit count there is no discovery and no probing."""
    plan = PollPlan(1, with_dlq=False)
    for now in (0.0, 100.0, 1000.0):
        assert plan.round(now) in ([0, MAIN], [MAIN, 0])
        plan.end_round(main_polled=True)


def test_failing_dlq_handler_backs_off_the_dlq() -> None:
    """After a DLQ handler failure the DLQ sits out a growing delay; success resets it."""
    plan = PollPlan(1, with_dlq=True)
    plan.dlq_handler_failed(100.0)
    assert DLQ not in plan.round(100.2)
    assert DLQ in plan.round(100.6)
    plan.dlq_handler_failed(101.0)
    assert DLQ not in plan.round(101.9)
    plan.dlq_handler_succeeded()
    plan.dlq_handler_failed(200.0)
    assert DLQ in plan.round(200.6)
