"""Running one or more ASGI apps under uvicorn in one process, with a graceful drain.

On the first SIGTERM or SIGINT the ``before_exit`` coroutine runs while the servers still
accept requests (the dispatcher stops handing out messages and waits for acks); then the
servers stop. A second signal stops at once.

`run` is the entry point of the services: it runs `serve` on uvloop where it is installed
(it is a dependency on Linux and macOS), else on asyncio's own loop. uvloop and uvicorn's
httptools parser raised the dispatcher's throughput by about 15 % (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

# Idle keep-alive connections stay open longer than clients keep them in their pools (httpx
# 5 s, Go's http.Transport 90 s): with uvicorn's default of 5 s, a worker reusing a connection
# just as the server closed it got a transport error instead of a reply.
KEEP_ALIVE_S = 120


@dataclass(frozen=True)
class Listener:
    app: ASGIApp
    host: str
    port: int


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals are handled by `serve`, once for all servers


def run(
    listeners: Sequence[Listener],
    *,
    before_exit: Callable[[], Awaitable[None]] | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``listeners`` until a signal stops them (blocking)."""
    main = serve(listeners, before_exit=before_exit, ready=ready)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def serve(
    listeners: Sequence[Listener],
    *,
    before_exit: Callable[[], Awaitable[None]] | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    servers = [
        _Server(
            uvicorn.Config(
                listener.app,
                host=listener.host,
                port=listener.port,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=5,
                timeout_keep_alive=KEEP_ALIVE_S,
                lifespan="on",
            )
        )
        for listener in listeners
    ]
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    tasks: list[asyncio.Task[None]] = []

    async def stop() -> None:
        if before_exit is not None:
            await before_exit()
        # Last started stops first: the dispatcher deregisters while the controller still runs.
        for server, task in reversed(list(zip(servers, tasks, strict=False))):
            server.should_exit = True
            await asyncio.wait([task])

    def on_signal() -> None:
        if stopping:
            for server in servers:
                server.force_exit = True
                server.should_exit = True
            return
        stopping.append(loop.create_task(stop()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        # Start in order (the controller before the dispatcher that calls it).
        for server in servers:
            tasks.append(asyncio.create_task(server.serve()))
            while not server.started and not tasks[-1].done():  # noqa: ASYNC110 (a flag)
                await asyncio.sleep(0.02)
            if tasks[-1].done():
                break
        if ready is not None and all(s.started for s in servers):
            ready()
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in servers:  # one stopped (or failed to start): stop the others
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
