"""Where a nacked message goes: the original service's repeat_count / repeat_backoff rules."""

from __future__ import annotations

import pytest

from jobqueue.models import ErrorPolicy
from jobqueue.retry_policy import DLQ, RetryPolicy

THREE = RetryPolicy((100, 200, 300))


@pytest.mark.parametrize(("attempt", "expected"), [(1, 0), (2, 1), (3, 2), (4, DLQ)])
def test_default_policy_walks_each_queue_once(attempt: int, expected: int) -> None:
    """Without a policy a message passes each retry queue once, then the DLQ."""
    assert THREE.next_queue(attempt, None) == expected


def test_repeat_count_zero_never_retries() -> None:
    """repeat_count 0: the first failure goes to the DLQ."""
    assert THREE.next_queue(1, ErrorPolicy(repeat_count=0, repeat_backoff=-1)) == DLQ


def test_repeat_count_minus_one_retries_forever_on_the_last_queue() -> None:
    """repeat_count -1 never dead-letters; the index clamps to the last queue."""
    policy = ErrorPolicy(repeat_count=-1, repeat_backoff=-1)
    assert [THREE.next_queue(a, policy) for a in (1, 2, 3, 50)] == [0, 1, 2, 2]


def test_fixed_backoff_queue_is_clamped() -> None:
    """repeat_backoff i always picks queue i, clamped to the last one."""
    assert THREE.next_queue(1, ErrorPolicy(repeat_count=5, repeat_backoff=1)) == 1
    assert THREE.next_queue(2, ErrorPolicy(repeat_count=5, repeat_backoff=9)) == 2


def test_n_retries_then_dlq() -> None:
    """repeat_count n allows exactly n retries."""
    policy = ErrorPolicy(repeat_count=2, repeat_backoff=0)
    assert [THREE.next_queue(a, policy) for a in (1, 2, 3)] == [0, 0, DLQ]


def test_job_default_policy_applies_when_message_has_none() -> None:
    """A job's error policy is used for messages that carry none."""
    job = RetryPolicy((100,), ErrorPolicy(repeat_count=0, repeat_backoff=0))
    assert job.next_queue(1, None) == DLQ


def test_no_retry_queues_means_dlq() -> None:
    """A job without retry queues dead-letters every failure."""
    assert RetryPolicy(()).next_queue(1, ErrorPolicy(repeat_count=-1, repeat_backoff=-1)) == DLQ
