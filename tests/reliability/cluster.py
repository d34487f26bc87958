"""A controller and standalone dispatchers as separate real processes, for fault tests.

`jobqueue dev` runs everything in one process; killing a dispatcher alone, or running two
dispatchers on one job, needs them apart. Every process logs to a file under the cluster's
root, so a test can read (and grep) what each one wrote.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from jobqueue.testing.processes import ServiceProcess
from tests.e2e.conftest import Api

ADMIN_TOKEN = "reliability-admin-token"
# Short intervals so that crash redelivery and controller sync happen within seconds.
FAST_DISPATCHER = (
    "--sync-interval", "0.2", "--lease-margin-ms", "1000", "--drain-timeout", "5",
)  # fmt: skip


class Cluster:
    """One controller (SQLite store, admin token) and the dispatchers a test starts."""

    def __init__(self, root: Path, *, log_level: str = "info") -> None:
        self.root = root
        self.log_level = log_level
        root.mkdir(parents=True, exist_ok=True)
        self.db = f"sqlite:///{root / 'controller.db'}"
        subprocess.run(
            [sys.executable, "-m", "jobqueue", "migrate", "--db", self.db],
            check=True,
            capture_output=True,
        )
        self.controller = ServiceProcess(
            root, "controller", "--db", self.db, "--token", ADMIN_TOKEN,
            "--dispatcher-ttl", "30", "--log-level", log_level,
        ).start()  # fmt: skip
        self.dispatchers: list[ServiceProcess] = []

    def dispatcher(
        self, *args: str, data_dir: Path | None = None, port: int | None = None
    ) -> ServiceProcess:
        """Start a standalone dispatcher on this cluster's controller (loopback, no token
        unless ``args`` set one); embedded-broker files go to ``data_dir``."""
        process = ServiceProcess(
            self.root, "dispatcher",
            "--controller", self.controller.url, "--controller-token", ADMIN_TOKEN,
            "--data-dir", str(data_dir or self.root / "data"), "--log-level", self.log_level,
            *FAST_DISPATCHER, *args,
            port=port,
        ).start()  # fmt: skip
        self.dispatchers.append(process)
        return process

    def restart(self, dispatcher: ServiceProcess) -> ServiceProcess:
        """The same dispatcher command on the same port (and data dir), started again."""
        again = ServiceProcess(
            dispatcher.workdir, dispatcher.command, *dispatcher.args, port=dispatcher.port
        ).start()
        self.dispatchers.append(again)
        return again

    def api(self, dispatcher: ServiceProcess) -> Api:
        api = Api(self.controller.url, dispatcher.url)
        api.controller.headers["authorization"] = f"Bearer {ADMIN_TOKEN}"
        return api

    def create_job(self, api: Api, name: str, queue_config: dict[str, Any], **fields: Any) -> None:
        """An active consumer job that retries forever (nothing reaches the DLQ by accident)."""
        body: dict[str, Any] = {
            "max_processing_time_ms": 3000,
            "retry_config": {"backoffs": [200]},
            "error_policy": {"repeat_count": -1, "repeat_backoff": -1},
            **fields,
        }
        api.create_job(name, queue_config, **body)
        api.start_job(name)

    def logs(self) -> str:
        """Everything every process of the cluster wrote."""
        return "\n".join(path.read_text(errors="replace") for path in self.root.glob("*.log"))

    def close(self) -> list[str]:
        """Stop every process (dispatchers first); returns the problems seen (bad exits)."""
        problems = []
        for process in reversed(self.dispatchers):
            code = process.stop(timeout_s=30)
            if code not in (0, None, -9):
                problems.append(f"dispatcher on {process.port} exited {code}:\n{process.log()}")
        self.controller.stop(timeout_s=30)
        return problems
