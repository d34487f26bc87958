"""The versioned job registry: create, read, update (new version) and state transitions.

Synchronous SQLAlchemy Core; the HTTP layer runs each call in a worker thread. Concurrency is
optimistic and enforced by the database, identically on PostgreSQL and SQLite: the unique
(name, version) constraint makes one of two racing creates fail, and every state change is a
conditional ``UPDATE ... WHERE id = :id AND state = :seen`` that affects no row when another
writer got there first, in which case the operation re-reads and tries again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from jobqueue.errors import Conflict, InvalidTransition, JobExists, JobNotFound
from jobqueue.models import JobState

from .db import Database
from .errors import ArchivedJobExists
from .records import ACTIVE, ARCHIVED, DEPRECATED, STOPPED, JobDraft, JobRecord, utcnow
from .tables import jobs

log = logging.getLogger(__name__)

Action = Literal["start", "stop", "archive"]
# action -> (states it applies to, target state); a job already in the target state is left as is
# for start and stop (idempotent), while archiving an archived job is a conflict.
_TRANSITIONS: dict[Action, tuple[frozenset[JobState], JobState]] = {
    "start": (frozenset({STOPPED}), ACTIVE),
    "stop": (frozenset({ACTIVE}), STOPPED),
    "archive": (frozenset({STOPPED, ACTIVE}), ARCHIVED),
}
MAX_ATTEMPTS = 8


class _Raced(Exception):
    """Another writer changed the row between our read and our write."""


def latest(conn: Connection, name: str) -> JobRecord | None:
    """The live (non-deprecated) version of ``name``: there is at most one."""
    row = conn.execute(
        sa.select(jobs).where(jobs.c.name == name, jobs.c.state != DEPRECATED)
    ).first()
    return None if row is None else JobRecord.from_row(row)


def latest_by_names(conn: Connection, names: list[str]) -> list[JobRecord]:
    if not names:
        return []
    rows = conn.execute(
        sa.select(jobs)
        .where(jobs.c.name.in_(names), jobs.c.state != DEPRECATED)
        .order_by(jobs.c.name)
    )
    return [JobRecord.from_row(row) for row in rows]


class JobStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create(self, name: str, draft: JobDraft) -> JobRecord:
        """Version 1 of a new job, stopped; `JobExists` if the name was ever used."""
        now = utcnow()
        try:
            with self.db.write() as conn:
                existing = latest(conn, name)
                if existing is not None:
                    raise ArchivedJobExists(name) if existing.state == ARCHIVED else JobExists(name)
                values = {
                    "name": name,
                    "version": 1,
                    "state": STOPPED,
                    "created_at": now,
                    "updated_at": now,
                    **draft.columns(),
                }
                insert = sa.insert(jobs).values(values).returning(jobs.c.id)
                new_id = conn.execute(insert).scalar_one()
        except exc.IntegrityError:
            raise JobExists(name) from None
        record = JobRecord(new_id, name, 1, STOPPED, draft, now, now)
        log.info(
            "job created",
            extra={"job": name, "version": 1, "queue_type": draft.queue_type, "type": draft.type},
        )
        return record

    def get(self, name: str) -> JobRecord:
        with self.db.read() as conn:
            record = latest(conn, name)
        if record is None:
            raise JobNotFound(name)
        return record

    def list_jobs(self, state: JobState | None = None) -> list[JobRecord]:
        """Live versions (stopped and active) by default; or every version in ``state``."""
        query = sa.select(jobs).order_by(jobs.c.name, jobs.c.version)
        if state is None:
            query = query.where(jobs.c.state.in_([STOPPED, ACTIVE]))
        else:
            query = query.where(jobs.c.state == state)
        with self.db.read() as conn:
            return [JobRecord.from_row(row) for row in conn.execute(query)]

    def versions(self, name: str) -> list[JobRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(jobs).where(jobs.c.name == name).order_by(jobs.c.version)
            ).all()
        if not rows:
            raise JobNotFound(name)
        return [JobRecord.from_row(row) for row in rows]

    def update(self, name: str, make_draft: Callable[[JobRecord], JobDraft]) -> JobRecord:
        """Write version n+1 from ``make_draft(version n)``; n becomes deprecated.

        The state carries over (an active job stays active). Racing updates are applied one
        after the other, each on top of the version the previous one wrote.
        """
        for _ in range(MAX_ATTEMPTS):
            try:
                record = self._update_once(name, make_draft)
            except (_Raced, exc.IntegrityError):
                continue
            log.info(
                "job updated",
                extra={"job": name, "version": record.version, "state": record.state},
            )
            return record
        raise Conflict(f"job {name!r} is being changed concurrently; retry the update")

    def _update_once(self, name: str, make_draft: Callable[[JobRecord], JobDraft]) -> JobRecord:
        now = utcnow()
        with self.db.write() as conn:
            current = latest(conn, name)
            if current is None:
                raise JobNotFound(name)
            if current.state == ARCHIVED:
                raise InvalidTransition(name, ARCHIVED, "update")
            draft = make_draft(current)
            self._set_state(conn, current, DEPRECATED, now)
            version = current.version + 1
            values = {
                "name": name,
                "version": version,
                "state": current.state,
                "created_at": now,
                "updated_at": now,
                **draft.columns(),
            }
            new_id = conn.execute(sa.insert(jobs).values(values).returning(jobs.c.id)).scalar_one()
        return JobRecord(new_id, name, version, current.state, draft, now, now)

    def transition(self, name: str, action: Action) -> JobRecord:
        """Start, stop or archive the live version of ``name``."""
        sources, target = _TRANSITIONS[action]
        for _ in range(MAX_ATTEMPTS):
            with self.db.write() as conn:
                current = latest(conn, name)
                if current is None:
                    raise JobNotFound(name)
                if current.state == target and action != "archive":
                    return current
                if current.state not in sources:
                    raise InvalidTransition(name, current.state, action)
                now = utcnow()
                try:
                    self._set_state(conn, current, target, now)
                except _Raced:
                    continue
            log.info("job state changed", extra={"job": name, "action": action, "state": target})
            return dataclasses.replace(current, state=target, updated_at=now)
        raise Conflict(f"job {name!r} is being changed concurrently; retry the {action}")

    @staticmethod
    def _set_state(conn: Connection, current: JobRecord, state: JobState, now: datetime) -> None:
        result = conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == current.id, jobs.c.state == current.state)
            .values(state=state, updated_at=now)
        )
        if result.rowcount != 1:
            raise _Raced()

    def counts_by_state(self) -> dict[str, int]:
        """How many job versions are in each state (for metrics)."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
            ).all()
        return {state: int(count) for state, count in rows}
