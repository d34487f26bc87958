"""Which dispatcher serves which job: register, deregister, gossip heartbeats and expiry.

A registration lives while its dispatcher gossips (or re-registers) at least once per
``ttl_ms``. Expiry happens on access, so that answers never depend on when the background
sweep last ran: a dispatcher whose registration expired no longer gets that job in its gossip
reply and has to register again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from jobqueue.errors import Conflict, JobNotFound, NotFound

from .db import Database
from .errors import JobArchived
from .records import ARCHIVED, JobRecord
from .store import MAX_ATTEMPTS, latest, latest_by_names
from .tables import dispatcher_registrations as regs
from .tables import jobs


@dataclass(frozen=True, slots=True)
class Registration:
    dispatcher_id: str
    job_name: str
    registered_at_ms: int
    last_seen_ms: int


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RegistrationStore:
    def __init__(self, database: Database, ttl_s: float) -> None:
        self.db = database
        self.ttl_ms = max(1, round(ttl_s * 1000))

    def register(self, dispatcher_id: str, job_name: str) -> JobRecord:
        """Record that ``dispatcher_id`` serves ``job_name`` (a heartbeat too); the live job."""
        for _ in range(MAX_ATTEMPTS):
            now = now_ms()
            try:
                with self.db.write() as conn:
                    job = latest(conn, job_name)
                    if job is None:
                        raise JobNotFound(job_name)
                    if job.state == ARCHIVED:
                        raise JobArchived(job_name)
                    refreshed = conn.execute(
                        sa.update(regs)
                        .where(regs.c.dispatcher_id == dispatcher_id, regs.c.job_name == job_name)
                        .values(last_seen_ms=now)
                    ).rowcount
                    if refreshed == 0:
                        conn.execute(
                            sa.insert(regs).values(
                                dispatcher_id=dispatcher_id,
                                job_name=job_name,
                                registered_at_ms=now,
                                last_seen_ms=now,
                            )
                        )
                    return job
            except exc.IntegrityError:
                continue  # a concurrent register inserted the row first: refresh it instead
        raise Conflict(f"registration of {dispatcher_id!r} for job {job_name!r} kept racing")

    def deregister(self, dispatcher_id: str, job_id: int) -> None:
        """Forget that ``dispatcher_id`` serves the job that has version id ``job_id``."""
        with self.db.write() as conn:
            name = conn.execute(sa.select(jobs.c.name).where(jobs.c.id == job_id)).scalar()
            if name is None:
                raise NotFound(f"no job version has id {job_id}")
            mine = regs.c.dispatcher_id == dispatcher_id
            conn.execute(sa.delete(regs).where(mine, regs.c.job_name == name))

    def gossip(self, dispatcher_id: str) -> list[JobRecord]:
        """Heartbeat of ``dispatcher_id``; the live version of every job it still serves."""
        now = now_ms()
        mine = regs.c.dispatcher_id == dispatcher_id
        with self.db.write() as conn:
            self._expire(conn, now, mine)
            conn.execute(sa.update(regs).where(mine).values(last_seen_ms=now))
            names = list(conn.execute(sa.select(regs.c.job_name).where(mine)).scalars())
            return latest_by_names(conn, names)

    def live(self) -> list[Registration]:
        cutoff = now_ms() - self.ttl_ms
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(regs)
                .where(regs.c.last_seen_ms >= cutoff)
                .order_by(regs.c.dispatcher_id, regs.c.job_name)
            ).all()
        return [
            Registration(row.dispatcher_id, row.job_name, row.registered_at_ms, row.last_seen_ms)
            for row in rows
        ]

    def expire(self) -> int:
        """Delete every registration whose dispatcher went quiet; how many were deleted."""
        with self.db.write() as conn:
            return self._expire(conn, now_ms(), sa.true())

    def _expire(self, conn: Connection, now: int, scope: sa.ColumnElement[bool]) -> int:
        result = conn.execute(sa.delete(regs).where(scope, regs.c.last_seen_ms < now - self.ttl_ms))
        return int(result.rowcount)
