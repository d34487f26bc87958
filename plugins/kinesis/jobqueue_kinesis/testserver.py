"""A moto server (Kinesis + DynamoDB over real HTTP) on a free local port, for tests.

moto's backends are not thread-safe: two concurrent PutRecords to one shard can get the same
sequence number, and two conditional writes can both pass their condition. Real AWS has
neither problem, so the server here handles one request at a time (connections stay
concurrent), which makes it behave like AWS where the lease protocol depends on it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from jobqueue_kinesis.config import KinesisConfig

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing-secret"
REGION = "us-east-1"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Serialized:
    """WSGI middleware running one request at a time through ``app``."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


class _QuietRequestHandler(MotoRequestHandler):
    """No access log line per request: tests make thousands."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SerializedMotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` whose requests are handled one at a time.

    A server that cannot bind makes `start` raise instead of waiting forever.
    """

    _startup_error: BaseException | None = None

    def _server_entry(self) -> None:
        try:
            self._server = make_server(
                self._ip_address,
                self._port,
                _Serialized(DomainDispatcherApplication(create_backend_app)),
                True,
                request_handler=_QuietRequestHandler,
            )
        except BaseException as exc:
            self._startup_error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        super().start()
        if self._startup_error is not None:
            raise RuntimeError(
                f"moto server could not start on {self._ip_address}:{self._port}: "
                f"{self._startup_error}"
            ) from self._startup_error


@dataclass(frozen=True)
class MotoEndpoint:
    """Where a running test server listens, and configs that reach it."""

    url: str

    def config(self, stream_name: str, **overrides: Any) -> KinesisConfig:
        """A broker config for ``stream_name`` on this server with fake credentials."""
        fields: dict[str, Any] = {
            "stream_name": stream_name,
            "region": REGION,
            "endpoint_url": self.url,
            "aws_access_key_id": FAKE_ACCESS_KEY_ID,
            "aws_secret_access_key": FAKE_SECRET_ACCESS_KEY,
        }
        return KinesisConfig(**(fields | overrides))


@contextlib.contextmanager
def moto_server(host: str = "127.0.0.1") -> Iterator[MotoEndpoint]:
    """Run a moto server on a free port of ``host`` for the duration of the block."""
    server = SerializedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    try:
        bound_host, port = server.get_host_and_port()
        yield MotoEndpoint(f"http://{bound_host}:{port}")
    finally:
        server.stop()
