"""Daemon threads for a worker's sync handlers.

`concurrent.futures.ThreadPoolExecutor` joins its threads at interpreter exit, so one handler
stuck past the shutdown deadline would keep the process alive after the worker has already
nacked its message. These threads are daemons: the process exits when the worker is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_Job = tuple[Callable[[Any], Any], Any, "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class HandlerThreads:
    """``size`` daemon threads running ``fn(arg)`` calls for an event loop."""

    def __init__(self, size: int, name: str = "jobqueue-handler") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """``fn(arg)`` on a thread; cancelling the await abandons the call, not the thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((fn, arg, future, loop))
        return await future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, arg, future, loop = job
            try:
                result = fn(arg)
            except BaseException as exc:
                _deliver(loop, future, None, exc)
            else:
                _deliver(loop, future, result, None)

    def shutdown(self) -> None:
        """Let idle threads end; busy ones end with their call, or with the process."""
        for _ in self._threads:
            self._jobs.put(None)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():  # abandoned: the worker stopped waiting for it
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(settle)
