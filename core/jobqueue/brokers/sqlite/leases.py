"""Claiming, acking, releasing and retiring records for one consumer group (the SQL side).

Each function runs inside a transaction the caller opened (`Database.write` / `read`), so two
consumers of one group never claim the same record while their leases hold.

Ordering within a key: a record is not handed out while another record with the same key is
leased to the group; records of one key handed out in one batch come in publish order. A
record that is blocked that way when the group first reads it is parked as an available
lease row and handed out once its key is free. At most `MAX_PARKED` records are parked per
group; beyond that the group stops reading new records until keys free up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_PARKED = 10_000
_EXTRA_SCAN = 256  # new records looked at beyond the ones wanted, to step over blocked keys
_CHUNK = 500  # bound on SQL variables per statement

_AVAILABLE = """
    SELECT l.record_id, r.key, r.payload
    FROM leases AS l JOIN records AS r ON r.id = l.record_id
    WHERE l.topic_id = :topic AND l.group_name = :group AND l.lease_until_ms <= :now
      AND (l.key IS NULL OR l.key NOT IN (
            SELECT b.key FROM leases AS b
            WHERE b.topic_id = :topic AND b.group_name = :group
              AND b.lease_until_ms > :now AND b.key IS NOT NULL))
    ORDER BY l.record_id
"""

_HAS_WORK = f"""
    SELECT EXISTS (
        SELECT 1 FROM records
        WHERE topic_id = :topic AND id > (
            SELECT read_upto FROM groups WHERE topic_id = :topic AND name = :group)
    ) OR EXISTS ({_AVAILABLE} LIMIT 1)
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    record_id: int
    key: bytes | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class GroupRef:
    """The (topic, group) a consumer reads, and the consumer's own owner id."""

    topic_id: int
    group: str
    owner: str

    @property
    def params(self) -> dict[str, object]:
        return {"topic": self.topic_id, "group": self.group}


def register_group(conn: sqlite3.Connection, ref: GroupRef, now_ms: int) -> None:
    """Create the group at position 0: a new group reads every retained record."""
    conn.execute(
        "INSERT OR IGNORE INTO groups (topic_id, name, read_upto, created_ms) VALUES (?, ?, 0, ?)",
        (ref.topic_id, ref.group, now_ms),
    )


def has_work(conn: sqlite3.Connection, ref: GroupRef, now_ms: int) -> bool:
    """Cheap read-only check whether `claim` could hand out anything right now."""
    (found,) = conn.execute(_HAS_WORK, {**ref.params, "now": now_ms}).fetchone()
    return bool(found)


def next_expiry_ms(conn: sqlite3.Connection, ref: GroupRef, now_ms: int) -> int | None:
    """When the group's earliest lease runs out (work may appear then without any commit)."""
    (until,) = conn.execute(
        "SELECT MIN(lease_until_ms) FROM leases"
        " WHERE topic_id = :topic AND group_name = :group AND lease_until_ms > :now",
        {**ref.params, "now": now_ms},
    ).fetchone()
    return None if until is None else int(until)


def claim(
    conn: sqlite3.Connection, ref: GroupRef, max_records: int, now_ms: int, lease_ms: int
) -> list[Claimed]:
    """Lease up to ``max_records`` records to ``ref.owner`` until ``now_ms + lease_ms``."""
    until = now_ms + lease_ms
    params = {**ref.params, "now": now_ms}
    busy = {
        key
        for (key,) in conn.execute(
            "SELECT DISTINCT key FROM leases WHERE topic_id = :topic AND group_name = :group"
            " AND lease_until_ms > :now AND key IS NOT NULL",
            params,
        )
    }
    claimed = [
        Claimed(int(row[0]), row[1], row[2])
        for row in conn.execute(f"{_AVAILABLE} LIMIT :limit", {**params, "limit": max_records})
    ]
    conn.executemany(
        "UPDATE leases SET owner = ?, lease_until_ms = ?"
        " WHERE topic_id = ? AND group_name = ? AND record_id = ?",
        [(ref.owner, until, ref.topic_id, ref.group, c.record_id) for c in claimed],
    )
    if len(claimed) < max_records:
        # Every available record whose key is free is in `claimed` now, so new records
        # with those keys may follow in this batch without overtaking one of them.
        taken = _read_new(conn, ref, max_records - len(claimed), busy, until)
        claimed.extend(_with_payloads(conn, taken))
    return claimed


def _read_new(
    conn: sqlite3.Connection, ref: GroupRef, wanted: int, busy: set[bytes], until: int
) -> list[tuple[int, bytes | None]]:
    """Take new records (past ``read_upto``), parking those whose key is ``busy``."""
    (read_upto,) = conn.execute(
        "SELECT read_upto FROM groups WHERE topic_id = ? AND name = ?", (ref.topic_id, ref.group)
    ).fetchone()
    rows = conn.execute(
        "SELECT id, key FROM records WHERE topic_id = ? AND id > ? ORDER BY id LIMIT ?",
        (ref.topic_id, read_upto, wanted + _EXTRA_SCAN),
    ).fetchall()
    if not rows:
        return []
    parked_budget: int | None = None
    taken: list[tuple[int, bytes | None]] = []
    parked: list[tuple[int, bytes | None]] = []
    position = int(read_upto)
    for record_id, key in rows:
        if len(taken) == wanted:
            break
        if key is not None and key in busy:
            if parked_budget is None:
                parked_budget = MAX_PARKED - _count_parked(conn, ref)
            if len(parked) >= parked_budget:
                break
            parked.append((record_id, key))
        else:
            taken.append((record_id, key))
        position = int(record_id)
    conn.executemany(
        "INSERT INTO leases (topic_id, group_name, record_id, key, owner, lease_until_ms)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(ref.topic_id, ref.group, rid, key, ref.owner, until) for rid, key in taken]
        + [(ref.topic_id, ref.group, rid, key, None, 0) for rid, key in parked],
    )
    conn.execute(
        "UPDATE groups SET read_upto = ? WHERE topic_id = ? AND name = ?",
        (position, ref.topic_id, ref.group),
    )
    return taken


def _count_parked(conn: sqlite3.Connection, ref: GroupRef) -> int:
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM leases WHERE topic_id = ? AND group_name = ? AND owner IS NULL",
        (ref.topic_id, ref.group),
    ).fetchone()
    return int(count)


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _with_payloads(
    conn: sqlite3.Connection, taken: Sequence[tuple[int, bytes | None]]
) -> list[Claimed]:
    payloads: dict[int, bytes] = {}
    for chunk in _chunks([rid for rid, _ in taken]):
        marks = ",".join("?" * len(chunk))
        for rid, payload in conn.execute(
            f"SELECT id, payload FROM records WHERE id IN ({marks})", tuple(chunk)
        ):
            payloads[int(rid)] = payload
    return [Claimed(rid, key, payloads[rid]) for rid, key in taken]


def ack(conn: sqlite3.Connection, ref: GroupRef, record_ids: Iterable[int]) -> None:
    """Forget these records for the group: they are never handed out again."""
    conn.executemany(
        "DELETE FROM leases WHERE topic_id = ? AND group_name = ? AND record_id = ?",
        [(ref.topic_id, ref.group, rid) for rid in record_ids],
    )


def renew(conn: sqlite3.Connection, ref: GroupRef, record_ids: Iterable[int], until: int) -> None:
    """Hold these records for ``ref.owner`` until ``until``; a record that went to another
    consumer stays with it."""
    conn.executemany(
        "UPDATE leases SET lease_until_ms = MAX(lease_until_ms, ?)"
        " WHERE topic_id = ? AND group_name = ? AND record_id = ? AND owner = ?",
        [(until, ref.topic_id, ref.group, rid, ref.owner) for rid in record_ids],
    )


def release(conn: sqlite3.Connection, ref: GroupRef) -> None:
    """Make every record leased to ``ref.owner`` available to the group again."""
    conn.execute(
        "UPDATE leases SET owner = NULL, lease_until_ms = 0"
        " WHERE topic_id = ? AND group_name = ? AND owner = ?",
        (ref.topic_id, ref.group, ref.owner),
    )


def retire(conn: sqlite3.Connection, topic_id: int, limit: int) -> int:
    """Delete up to ``limit`` of the topic's oldest records that every group has acked.

    A record is deleted once it lies below the lowest un-acked position of every group that
    ever read the topic; a topic no group reads keeps its records for the first group.
    """
    (low,) = conn.execute(
        """SELECT MIN(MIN(g.read_upto, COALESCE(
               (SELECT MIN(l.record_id) - 1 FROM leases AS l
                WHERE l.topic_id = g.topic_id AND l.group_name = g.name), g.read_upto)))
           FROM groups AS g WHERE g.topic_id = ?""",
        (topic_id,),
    ).fetchone()
    if low is None:
        return 0
    cursor = conn.execute(
        "DELETE FROM records WHERE id IN ("
        " SELECT id FROM records WHERE topic_id = ? AND id <= ? ORDER BY id LIMIT ?)",
        (topic_id, low, limit),
    )
    return int(cursor.rowcount)
