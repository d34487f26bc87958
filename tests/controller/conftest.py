"""Fixtures of the controller tests: real databases (SQLite files and a PostgreSQL server
started from the machine's binaries), controllers served by uvicorn on a free port, and a
config-only test broker whose config type declares secrets."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import msgspec
import psycopg2
import pytest
import uvicorn
from starlette.applications import Starlette

from jobqueue.contract import Broker, BrokerConfig, Capabilities, Consumer, Producer
from jobqueue.controller.app import create_app
from jobqueue.controller.migrations import upgrade
from jobqueue.hookspecs import RegisterBroker, hookimpl
from jobqueue.plugins import BrokerRegistry, load_brokers

PG_URL_ENV = "JOBQUEUE_TEST_POSTGRES_URL"
SECRET = "s3cr3t-SASL-pa55word"


# --------------------------------------------------------------------------- test broker


class SaslTestConfig(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    """Shaped like the original service's Kafka config, with SASL credentials."""

    __secret_fields__: ClassVar[frozenset[str]] = frozenset({"sasl_password"})

    cluster_address: list[str] = msgspec.field(default_factory=lambda: ["localhost:9092"])
    topic: str
    sasl_username: str = ""
    sasl_password: str = ""

    def main_topic(self) -> str:
        return self.topic

    def address(self) -> str:
        return ",".join(self.cluster_address)


class SaslTestBroker(Broker):
    """Config validation only: the controller never opens a broker."""

    name = "sasltest"
    config_type = SaslTestConfig
    capabilities = Capabilities(max_payload_bytes=1024)

    def producer(self, topic: str) -> Producer:
        raise NotImplementedError("config-only test broker")

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> Consumer:
        raise NotImplementedError("config-only test broker")

    def ensure_topics(self, topics: Any) -> None:
        raise NotImplementedError("config-only test broker")


class SaslTestPlugin:
    @hookimpl
    def jobqueue_register_brokers(self, register: RegisterBroker) -> None:
        register(SaslTestBroker)


@pytest.fixture(scope="session")
def registry() -> BrokerRegistry:
    """The installed brokers (the embedded sqlite one at least) plus the SASL test broker."""
    found = load_brokers(extra_plugins=[SaslTestPlugin()])
    assert "sqlite" in found.names(), f"embedded sqlite broker not registered: {found.names()}"
    return found


# --------------------------------------------------------------------------- PostgreSQL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bindir() -> Path:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
            "run scripts/bootstrap.sh, which installs them with apt-get (package postgresql)",
            pytrace=False,
        )
    by_version = sorted(found, key=lambda path: int(Path(path).parts[-3]))
    preferred = [path for path in by_version if Path(path).parts[-3] == "15"]
    return Path((preferred or by_version)[-1]).parent


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp dir; as root it runs as user ``postgres``."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="jobqueue-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(
                    "running as root, PostgreSQL needs a non-root user 'postgres' to run as: "
                    "run scripts/bootstrap.sh (the postgresql package creates it)",
                    pytrace=False,
                )
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            pytest.fail(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{log[-3000:]}",
                pytrace=False,
            )

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        subprocess.run(
            [
                *self.prefix,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the maintenance database of a PostgreSQL server for this test session."""
    external = os.environ.get(PG_URL_ENV)
    if external:
        yield external
        return
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def _admin(url: str, statement: str) -> None:
    dsn = url.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def _database_in(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


# --------------------------------------------------------------------------- databases


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on ``backend`` (not migrated)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'controller.db'}"
        return
    with PostgresDatabases(request.getfixturevalue("postgres_url")) as databases:
        yield databases.create()


class PostgresDatabases:
    """Creates databases on a server and drops them all on exit."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: list[str] = []

    def create(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        _admin(self.server_url, f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return _database_in(self.server_url, name)

    def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> PostgresDatabases:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names:
            _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_databases(postgres_url: str) -> Iterator[PostgresDatabases]:
    """For PostgreSQL-only tests: ``create()`` an empty database, ``drop(url)`` it."""
    with PostgresDatabases(postgres_url) as databases:
        yield databases


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A new database on ``backend``, migrated to the latest schema."""
    upgrade(empty_db_url)
    return empty_db_url


# --------------------------------------------------------------------------- live servers


class LiveServer:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the controller did not start serving within 15 s", pytrace=False)
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
        assert not self.thread.is_alive(), "uvicorn did not stop within 15 s"


class Api:
    """An httpx client on a live controller, with JSON helpers for the tests."""

    SECRET = SECRET

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code == 200, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()

    def error(self, method: str, path: str, status: int, body: Any = None, **kw: Any) -> Any:
        response = self.http.request(method, path, json=body, **kw)
        assert response.status_code == status, (
            f"{method} {path}: expected {status}, got {response.status_code} {response.text}"
        )
        reply = response.json()
        assert isinstance(reply["error"], str) and reply["error"]
        return reply

    def create(self, name: str, **fields: Any) -> Any:
        return self.ok("POST", "/api/v1/job/", job_body(name, **fields))["job"]

    @staticmethod
    def job_body(name: str, **fields: Any) -> dict[str, Any]:
        return job_body(name, **fields)

    @staticmethod
    def sasl_config(topic: str = "orders", password: str = SECRET) -> dict[str, Any]:
        return sasl_queue_config(topic, password)


def job_body(name: str, **fields: Any) -> dict[str, Any]:
    """A valid consumer job on the embedded sqlite broker, with ``fields`` overriding."""
    body: dict[str, Any] = {
        "name": name,
        "description": f"{name} test job",
        "type": "consumer",
        "queue_config": {"type": "sqlite", "config": {"topic": f"{name}-topic"}},
        "retry_config": {"backoffs": [100, 1000]},
        "max_processing_time_ms": 30_000,
    }
    body.update(fields)
    return body


def sasl_queue_config(topic: str = "orders", password: str = SECRET) -> dict[str, Any]:
    return {
        "type": "sasltest",
        "config": {
            "cluster_address": ["kafka-1:9092", "kafka-2:9092"],
            "topic": topic,
            "sasl_username": "svc-orders",
            "sasl_password": password,
        },
    }


@pytest.fixture
def serve() -> Iterator[Callable[[Starlette], str]]:
    """``serve(app)`` serves ``app`` until the test ends; returns its base URL."""
    servers: list[LiveServer] = []

    def start(app: Starlette) -> str:
        server = LiveServer(app)
        server.start()
        servers.append(server)
        return server.url

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def serve_api(serve: Callable[[Starlette], str]) -> Callable[..., Api]:
    """``serve_api(app, token=None)``: serve ``app`` and return a client on it."""

    def start(app: Starlette, token: str | None = None) -> Api:
        return Api(serve(app), token)

    return start


@pytest.fixture
def make_api(
    db_url: str, registry: BrokerRegistry, serve: Callable[[Starlette], str]
) -> Callable[..., Api]:
    """``make_api(token=..., dispatcher_ttl_s=...)``: a new controller on ``db_url``."""

    def make(*, token: str | None = None, dispatcher_ttl_s: float = 60.0) -> Api:
        app = create_app(db_url, token=token, registry=registry, dispatcher_ttl_s=dispatcher_ttl_s)
        return Api(serve(app), token)

    return make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A controller without auth on a fresh database (SQLite and PostgreSQL)."""
    return make_api()
