"""The controller and a dispatcher as separate processes, so the dispatcher's CPU and memory
are measured alone; and the job a dispatcher-mode run serves.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.targets import BenchError
from jobqueue.testing.processes import ServiceProcess

DISPATCHER_ARGS = ("--log-level", "warning", "--sync-interval", "5", "--drain-timeout", "5")
RETRY_BACKOFFS_MS = [1000, 5000]
MAX_PROCESSING_TIME_MS = 30_000


class Controller:
    """A migrated controller (SQLite store) for the whole bench invocation."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.db_url = f"sqlite:///{(workdir / 'controller.db').resolve()}"
        self.process = ServiceProcess(
            workdir, "controller", "--db", self.db_url, "--log-level", "warning"
        )
        self._http: httpx.Client | None = None

    def __enter__(self) -> Controller:
        self.workdir.mkdir(parents=True, exist_ok=True)
        migrate = subprocess.run(
            [sys.executable, "-m", "jobqueue", "migrate", "--db", self.db_url],
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode != 0:
            raise BenchError(f"jobqueue migrate failed: {migrate.stderr.strip()}")
        try:
            self.process.start()
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        self._http = httpx.Client(base_url=self.process.url, timeout=30)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            self._http.close()
        self.process.stop()

    @property
    def url(self) -> str:
        return self.process.url

    def create_job(self, name: str, queue_config: dict[str, Any]) -> None:
        """Create and start a consumer job (the bench publishes through it too)."""
        assert self._http is not None
        body = {
            "name": name,
            "type": "consumer",
            "queue_config": queue_config,
            "retry_config": {"backoffs": RETRY_BACKOFFS_MS},
            "max_processing_time_ms": MAX_PROCESSING_TIME_MS,
        }
        _ok(self._http.post("/api/v1/job/", json=body), "create job")
        _ok(self._http.put(f"/api/v1/job/{name}/start/"), "start job")


class Dispatcher:
    """One ``jobqueue dispatcher`` process, fresh for each dispatcher-mode measurement."""

    def __init__(self, workdir: Path, controller: Controller) -> None:
        self.process = ServiceProcess(
            workdir,
            "dispatcher",
            "--controller", controller.url,
            "--data-dir", str((workdir / "dispatcher").resolve()),
            *DISPATCHER_ARGS,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def __enter__(self) -> Dispatcher:
        try:
            self.process.start()
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        code = self.process.stop(timeout_s=30)
        if code not in (0, None) and exc_type is None:
            raise BenchError(f"dispatcher exited with {code}; log:\n{self.process.log()[-3000:]}")

    def subscribe(self, name: str) -> None:
        reply = httpx.post(f"{self.url}/api/v1/worker/subscribe", json={"name": name}, timeout=60)
        _ok(reply, "subscribe")


def _ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        status = response.status_code
        raise BenchError(f"{what}: HTTP {status} from {response.url}: {response.text}")
