"""Running jobqueue's own services as real processes, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s: {last}")


class _JobqueueProcess:
    """A ``python -m jobqueue ...`` child process with its output in a log file."""

    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: list[str], health_urls: list[str], timeout_s: float, cwd: Path) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobqueue", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ},
        )
        log.close()
        try:
            for url in health_urls:
                wait_http(url, timeout_s, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(f"jobqueue {argv[0]} did not start; log:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup — a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


class DevStack(_JobqueueProcess):
    """A ``jobqueue dev`` process (controller + dispatcher + embedded broker) on free ports."""

    def __init__(self, data_dir: Path, *args: str, log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.controller_port = free_port()
        self.dispatcher_port = free_port()
        self.log_path = log_path or data_dir / "dev.log"

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller_port}"

    @property
    def dispatcher_url(self) -> str:
        return f"http://127.0.0.1:{self.dispatcher_port}"

    def start(self, timeout_s: float = 30.0) -> DevStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            "dev",
            "--data-dir", str(self.data_dir),
            "--controller-port", str(self.controller_port),
            "--dispatcher-port", str(self.dispatcher_port),
            *self.args,
        ]  # fmt: skip
        health = [f"{self.controller_url}/health", f"{self.dispatcher_url}/health"]
        self._spawn(argv, health, timeout_s, Path.cwd())
        return self


class ServiceProcess(_JobqueueProcess):
    """One ``jobqueue <command>`` process (controller or dispatcher) on a free port."""

    def __init__(self, workdir: Path, command: str, *args: str, port: int | None = None) -> None:
        self.workdir = workdir
        self.command = command
        self.args = list(args)
        self.port = port or free_port()
        self.log_path = workdir / f"{command}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ServiceProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [self.command, "--port", str(self.port), *self.args]
        self._spawn(argv, [f"{self.url}/health"], timeout_s, self.workdir)
        return self
