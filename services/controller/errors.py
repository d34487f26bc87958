"""Controller-specific refinements of `jobqueue.errors` (same codes and statuses, sharper text)."""

from __future__ import annotations

from jobqueue.errors import (
    JobExists,
    JobNotFound,
    JobQueueError,
    ServiceUnavailable,
    UnknownBroker,
)


class DatabaseNotMigrated(JobQueueError):
    """The job store's schema is missing or older than this jobqueue version needs."""

    code = "database_not_migrated"

    def __init__(self, url: str, current: str | None, head: str) -> None:
        self.url = url
        self.current = current
        self.head = head
        state = "has no jobqueue schema" if current is None else f"is at revision {current}"
        super().__init__(
            f"database {url} {state}, this jobqueue needs revision {head}: "
            f"run `jobqueue migrate --db {url}` first"
        )


class DatabaseTooNew(JobQueueError):
    """The schema was migrated by a newer jobqueue than this one."""

    code = "database_too_new"

    def __init__(self, url: str, current: str) -> None:
        super().__init__(
            f"database {url} is at revision {current}, which this jobqueue version does not "
            f"know: it was migrated by a newer jobqueue; upgrade jobqueue"
        )


class DatabaseUnavailable(ServiceUnavailable):
    """The job store cannot be reached or refused the operation (503; retry later)."""

    code = "database_unavailable"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"controller database {url} unavailable: {reason}")


class JobArchived(JobNotFound):
    """A dispatcher asked to serve an archived job: for it, the job is gone (404)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.message = f"job {name!r} is archived; create a job with a new name to serve it"
        self.args = (self.message,)


class UnknownQueueType(UnknownBroker):
    """`UnknownBroker` that names the request field it came from."""

    field = "queue_config.type"


class ArchivedJobExists(JobExists):
    """Create of a name whose job is archived: names are never reused (409)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.message = (
            f"job {name!r} already exists and is archived; archived names are not reused, "
            f"pick a new name"
        )
        self.args = (self.message,)
