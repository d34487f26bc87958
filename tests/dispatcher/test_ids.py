"""Message ids: unique, increasing, JavaScript-safe."""

from __future__ import annotations

import threading

from jobqueue.dispatcher.ids import IdGenerator
from jobqueue.models import MAX_SAFE_ID


def test_ids_are_unique_increasing_and_below_2_53() -> None:
    """Many ids in a burst (more than 128 per millisecond) stay unique and increasing."""
    gen = IdGenerator()
    ids = [i for _ in range(200) for i in gen.next_ids(100)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(0 < i <= MAX_SAFE_ID for i in ids)


def test_ids_unique_across_threads() -> None:
    """Concurrent callers never get the same id."""
    gen = IdGenerator()
    out: list[list[int]] = [[] for _ in range(4)]

    def work(slot: list[int]) -> None:
        for _ in range(500):
            slot.extend(gen.next_ids(3))

    threads = [threading.Thread(target=work, args=(slot,)) for slot in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for slot in out for i in slot]
    assert len(set(flat)) == len(flat) == 6000


def test_different_nodes_never_collide_in_the_same_millisecond() -> None:
    """Two generators with different node numbers produce disjoint ids."""
    a, b = IdGenerator(node=1), IdGenerator(node=2)
    assert not set(a.next_ids(1000)) & set(b.next_ids(1000))
