"""Races forced at the worst moment, on PostgreSQL (READ COMMITTED).

A rival writer on its own connection commits right before our statement runs, which HTTP
load only hits by luck. SQLite needs no such test: its write transactions take the database
lock at BEGIN (BEGIN IMMEDIATE), so a rival cannot slip in between our read and our write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event

from jobqueue.controller.db import Database, make_engine
from jobqueue.controller.migrations import upgrade
from jobqueue.controller.records import JobDraft, JobRecord
from jobqueue.controller.store import JobStore
from jobqueue.controller.validation import JobValidator
from jobqueue.errors import InvalidTransition, JobExists
from jobqueue.models import JobCreate, convert
from jobqueue.plugins import BrokerRegistry

if TYPE_CHECKING:
    from conftest import PostgresDatabases


@dataclasses.dataclass
class Stores:
    mine: JobStore
    rival: JobStore
    draft: JobDraft
    interleave: Callable[[str, Callable[[], Any]], list[str]]


@pytest.fixture
def stores(postgres_databases: PostgresDatabases, registry: BrokerRegistry) -> Iterator[Stores]:
    url = postgres_databases.create()
    upgrade(url)
    mine, rival = make_engine(url), make_engine(url)
    body = {
        "name": "racy",
        "type": "consumer",
        "queue_config": {"type": "sqlite", "config": {"topic": "t"}},
        "retry_config": {"backoffs": [10]},
        "max_processing_time_ms": 1000,
    }
    draft = JobValidator(registry).for_create(convert(body, JobCreate))

    def interleave(prefix: str, rival_action: Callable[[], Any]) -> list[str]:
        """Run ``rival_action`` (committed) just before our next statement starting so."""
        fired: list[str] = []

        @event.listens_for(mine, "before_cursor_execute")
        def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.startswith(prefix) and not fired:
                fired.append(statement)
                rival_action()

        return fired

    yield Stores(JobStore(Database(mine)), JobStore(Database(rival)), draft, interleave)
    mine.dispose()
    rival.dispose()


def _with_description(text: str) -> Callable[[JobRecord], JobDraft]:
    return lambda current: dataclasses.replace(current.draft, description=text)


def test_create_that_loses_at_insert_is_job_exists(stores: Stores) -> None:
    """Our existence check passed, then a rival created the name: JobExists, not a 500."""
    fired = stores.interleave("INSERT INTO jobs", lambda: stores.rival.create("racy", stores.draft))
    with pytest.raises(JobExists):
        stores.mine.create("racy", stores.draft)
    assert fired, "the rival create did not run inside our transaction"
    assert [v.version for v in stores.mine.versions("racy")] == [1]


def test_update_that_loses_its_version_retries_on_top(stores: Stores) -> None:
    """A rival wrote version 2 after we read version 1: ours becomes version 3."""
    stores.mine.create("racy", stores.draft)
    fired = stores.interleave(
        "UPDATE jobs", lambda: stores.rival.update("racy", _with_description("rival"))
    )
    record = stores.mine.update("racy", _with_description("mine"))
    assert fired
    assert (record.version, record.draft.description) == (3, "mine")
    versions = stores.mine.versions("racy")
    assert [(v.version, v.state, v.draft.description) for v in versions] == [
        (1, "deprecated", stores.draft.description),
        (2, "deprecated", "rival"),
        (3, "stopped", "mine"),
    ]


def test_update_keeps_the_state_a_rival_set(stores: Stores) -> None:
    """A rival started the job after we read it: the new version is active, not stopped."""
    stores.mine.create("racy", stores.draft)
    fired = stores.interleave("UPDATE jobs", lambda: stores.rival.transition("racy", "start"))
    record = stores.mine.update("racy", _with_description("mine"))
    assert fired
    assert (record.version, record.state) == (2, "active")


def test_start_that_loses_to_an_archive_is_a_conflict(stores: Stores) -> None:
    """A rival archived the job after we read it stopped: start fails with 409, not 200."""
    stores.mine.create("racy", stores.draft)
    fired = stores.interleave("UPDATE jobs", lambda: stores.rival.transition("racy", "archive"))
    with pytest.raises(InvalidTransition, match="archived"):
        stores.mine.transition("racy", "start")
    assert fired
    assert stores.mine.get("racy").state == "archived"
