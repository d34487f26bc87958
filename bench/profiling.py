"""Sampling the serving process with py-spy during the timed window (``--profile FILE``).

The format follows the file's extension: ``.svg`` a flame graph, ``.json`` speedscope,
anything else py-spy's raw collapsed stacks (one ``stack count`` line each, easy to sum).
Idle threads are left out, so the profile shows where the CPU goes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from bench.targets import BenchError

RATE_HZ = 500


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise BenchError("--profile needs py-spy: pip install py-spy (the bench extra)")
    return found


class PySpy:
    """``py-spy record`` attached to ``pid`` for the duration of a ``with`` block."""

    def __init__(self, pid: int, output: Path) -> None:
        self.pid = pid
        self.output = output
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        suffix = self.output.suffix
        fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(suffix, "raw")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                _py_spy(), "record",
                "--pid", str(self.pid),
                "--output", str(self.output),
                "--format", fmt,
                "--rate", str(RATE_HZ),
                "--threads", "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            _, stderr = self._process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise BenchError("py-spy did not stop within 60 s") from None
        if self._process.returncode not in (0, -signal.SIGINT) and not self.output.exists():
            raise BenchError(f"py-spy failed: {stderr.decode(errors='replace')[-1000:]}")
