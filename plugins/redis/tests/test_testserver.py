"""The test server helper: fails loudly when redis-server is missing, cleans up after itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobqueue_redis import testserver
from jobqueue_redis.testserver import RedisServer, RedisServerError


def test_missing_redis_server_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without redis-server on PATH the error names the install command, it does not skip."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(testserver, "_debian_path", lambda: None)
    with pytest.raises(RedisServerError, match="apt-get install redis-server"):
        RedisServer()


def test_unrunnable_executable_is_an_error(tmp_path: Path) -> None:
    """A redis-server path that cannot be executed fails start with the install hint."""
    with pytest.raises(RedisServerError, match=r"scripts/bootstrap\.sh"):
        RedisServer(executable=str(tmp_path / "redis-server"), directory=tmp_path).start()


def test_server_stops_and_removes_its_directory() -> None:
    """Leaving the context stops the process and deletes the temp directory."""
    with RedisServer() as server:
        assert server.client().ping()
        directory, pid = server.directory, server.pid
        assert pid is not None
    assert not directory.exists()
    assert not Path(f"/proc/{pid}").exists()


def test_restart_keeps_port_and_data_with_aof() -> None:
    """restart(kill=True) comes back on the same port with the AOF replayed."""
    with RedisServer(appendonly=True) as server:
        port = server.port
        server.client().set("k", "v")
        server.restart(kill=True)
        assert server.port == port
        assert server.client().get("k") == b"v"
