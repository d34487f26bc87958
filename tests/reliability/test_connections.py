"""Connections that workers keep open between requests stay usable: a client whose pool
keeps idle connections for seconds (httpx: 5 s, Go's http.Transport: 90 s) must not send a
request on a connection the server is closing at that moment (a transport error, no reply)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from jobqueue.testing.processes import DevStack
from tests.e2e.conftest import DEV_ARGS

IDLE_S = 6.0  # longer than uvicorn's default keep-alive of 5 s


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = DevStack(tmp_path_factory.mktemp("keepalive"), *DEV_ARGS).start()
    yield stack
    assert stack.stop() == 0, stack.log()


def request(sock: socket.socket, port: int) -> bytes:
    """GET /health on an open keep-alive connection; the raw reply ("" if it was closed)."""
    sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(4096)
        if not chunk:
            return reply
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return reply


def test_idle_keep_alive_connections_are_still_served(dev: DevStack) -> None:
    """One connection to each service, a request, 6 s idle, a second request on the same
    connection: both answered 200 (the server keeps idle connections for 120 s)."""
    ports = (dev.controller_port, dev.dispatcher_port)
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for port in ports]
    try:
        for sock, port in zip(sockets, ports, strict=True):
            assert request(sock, port).startswith(b"HTTP/1.1 200"), port
        time.sleep(IDLE_S)
        for sock, port in zip(sockets, ports, strict=True):
            again = request(sock, port)
            assert again.startswith(b"HTTP/1.1 200"), f"port {port} closed the idle connection"
    finally:
        for sock in sockets:
            sock.close()
