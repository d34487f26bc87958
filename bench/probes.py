"""CPU time and peak resident memory of the processes a run is charged for.

CPU is user + system time of the whole process (every thread), read before and after the
timed window; RSS is sampled every 50 ms during the window and the peak is kept.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psutil

SAMPLE_S = 0.05


class ProcessProbe:
    """Measures one process (by pid) over a ``with`` block."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.cpu_s = 0.0
        self.peak_rss_bytes = 0
        self._cpu_start = 0.0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def _sample(self) -> None:
        while True:
            try:
                rss = int(self.process.memory_info().rss)
            except psutil.Error:
                return
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            if self._stop.wait(SAMPLE_S):
                return

    def __enter__(self) -> ProcessProbe:
        self._cpu_start = self._cpu()
        self._sampler = threading.Thread(target=self._sample, name="bench-probe", daemon=True)
        self._sampler.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        if exc_type is None:
            self.cpu_s = self._cpu() - self._cpu_start


class Probes:
    """Several probes entered and left together; absent pids (an embedded broker) count 0."""

    def __init__(self, **pids: int | None) -> None:
        self.probes = {name: ProcessProbe(pid) for name, pid in pids.items() if pid is not None}

    def __enter__(self) -> Probes:
        for probe in self.probes.values():
            probe.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for probe in self.probes.values():
            probe.__exit__(exc_type, exc, tb)

    def cpu_s(self, name: str) -> float:
        probe = self.probes.get(name)
        return probe.cpu_s if probe else 0.0

    def rss_mb(self, name: str) -> float:
        probe = self.probes.get(name)
        return probe.peak_rss_bytes / 2**20 if probe else 0.0
