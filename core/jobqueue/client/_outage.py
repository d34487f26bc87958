"""Logging an outage once when it starts and once when it ends, never per retry."""

from __future__ import annotations

import logging


class Outage:
    """``failed`` logs a warning on the first failure of a streak (or when the error changes
    type); ``recovered`` logs once the streak ends."""

    def __init__(self, log: logging.Logger, what: str, job: str) -> None:
        self.log = log
        self.what = what
        self.job = job
        self.kind: type[BaseException] | None = None

    def failed(self, exc: BaseException, level: int = logging.WARNING) -> None:
        if type(exc) is not self.kind:
            self.kind = type(exc)
            self.log.log(
                level,
                "%s failing, retrying with backoff: %s",
                self.what,
                exc,
                extra={"job": self.job, "error": str(exc)},
            )

    def recovered(self) -> None:
        if self.kind is not None:
            self.kind = None
            self.log.info("%s working again", self.what, extra={"job": self.job})
