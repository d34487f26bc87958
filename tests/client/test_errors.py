"""Every typed error of the client, provoked for real against real dispatchers, through both
the sync and the async client."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobqueue import errors
from jobqueue.client import (
    ERROR_TYPES,
    AsyncDispatcherClient,
    BackPressure,
    BadRequest,
    BrokerUnavailable,
    ControllerUnavailable,
    DispatcherClient,
    DispatcherUnavailable,
    InvalidInput,
    JobNotFound,
    JobQueueError,
    JobStopped,
    NotFound,
    NotSubscribed,
    PayloadTooLarge,
    PublishFailed,
    ServiceUnavailable,
    Unauthorized,
    error_from_reply,
    is_retryable,
    new_message,
)
from jobqueue.testing.processes import DevStack, ServiceProcess, free_port
from tests.client.conftest import Controller, start_stack, stop_stack

MAX_IN_FLIGHT = 3
BODY_LIMIT = 64 * 1024
ADMIN = "admin-token-for-tests"
WORKER = "worker-token-for-tests"


class AsyncAsSync:
    """Runs `AsyncDispatcherClient` coroutines on a private event loop, so that one test body
    checks both clients."""

    def __init__(self, url: str, **options: Any) -> None:
        self.runner = asyncio.Runner()
        self.client = AsyncDispatcherClient(url, **options)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)
        return lambda *args, **kwargs: self.runner.run(method(*args, **kwargs))

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.close()


ClientFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
    """Builds the client under test (sync or async) for a URL; closes what it built."""
    built: list[Any] = []

    def make(url: str, **options: Any) -> Any:
        client = (
            DispatcherClient(url, **options)
            if request.param == "sync"
            else AsyncAsSync(url, **options)
        )
        built.append(client)
        return client

    yield make
    for client in built:
        client.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """A dev stack with a tiny in-flight limit and body limit, to provoke 503 and 413."""
    dev = start_stack(
        tmp_path_factory.mktemp("errors"),
        "--max-in-flight", str(MAX_IN_FLIGHT), "--max-body-bytes", str(BODY_LIMIT),
    )  # fmt: skip
    yield dev
    stop_stack(dev)


@pytest.fixture
def client(stack: DevStack, make_client: ClientFactory) -> Any:
    return make_client(stack.dispatcher_url)


def test_unknown_job_raises_job_not_found(client: Any) -> None:
    """Subscribing to a job the controller does not have: JobNotFound (404), not retryable."""
    with pytest.raises(JobNotFound) as caught:
        client.subscribe("no-such-job")
    exc = caught.value
    assert isinstance(exc, NotFound) and not is_retryable(exc)
    assert (exc.code, exc.status_code, exc.name) == ("job_not_found", 404, "no-such-job")  # type: ignore[attr-defined]
    assert "no-such-job" in str(exc)


def test_unsubscribed_job_raises_not_subscribed(
    client: Any, controller: Controller, job_name: str
) -> None:
    """Polls and acks for a job this dispatcher does not serve: NotSubscribed (404)."""
    controller.active_job(job_name)
    with pytest.raises(NotSubscribed) as caught:
        client.poll(job_name)
    assert caught.value.status_code == 404 and "subscribe first" in str(caught.value)  # type: ignore[attr-defined]
    with pytest.raises(NotSubscribed):
        client.ack(job_name, [1])


def test_stopped_job_raises_job_stopped_but_takes_acks(
    client: Any, controller: Controller, job_name: str
) -> None:
    """A stopped job refuses polls with JobStopped (503, retryable); ack still answers."""
    controller.create_job(job_name)  # jobs start stopped
    client.subscribe(job_name)
    with pytest.raises(JobStopped) as caught:
        client.poll(job_name, max_wait_ms=100)
    assert isinstance(caught.value, ServiceUnavailable) and is_retryable(caught.value)
    assert caught.value.status_code == 503  # type: ignore[attr-defined]
    assert client.ack(job_name, [12345]).bad_ids == [12345]


def test_too_many_unacked_raises_back_pressure(
    client: Any, controller: Controller, job_name: str
) -> None:
    """Holding --max-in-flight messages: the next poll raises BackPressure until an ack."""
    controller.active_job(job_name)
    client.subscribe(job_name)
    client.publish(job_name, [new_message(i) for i in range(MAX_IN_FLIGHT + 2)])
    held = poll_until(client, job_name, MAX_IN_FLIGHT)
    with pytest.raises(BackPressure) as caught:
        client.poll(job_name, max_wait_ms=100)
    assert is_retryable(caught.value) and caught.value.code == "back_pressure"
    assert client.ack(job_name, [m.id for m in held]).bad_ids == []
    assert len(poll_until(client, job_name, 2)) == 2


def test_bad_input_raises_bad_request_naming_the_field(
    client: Any, controller: Controller, job_name: str
) -> None:
    """Out-of-range fields: BadRequest (= InvalidInput, 400) with ``field`` set."""
    assert BadRequest is InvalidInput
    controller.active_job(job_name)
    client.subscribe(job_name)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: client.poll(job_name, max_messages=5000), "max_messages"),
        (lambda: client.poll_retry(job_name, 7), "retry_queue"),
        (lambda: client.extend(job_name, [1], 0), "extend_ms"),
        (lambda: client.redrive(job_name, target="nowhere"), "target"),
    ]
    for call, field in cases:
        with pytest.raises(BadRequest) as caught:
            call()
        exc = caught.value
        assert (exc.field, exc.status_code) == (field, 400), exc  # type: ignore[attr-defined]
        assert not is_retryable(exc)


def test_oversized_publish_raises_payload_too_large(
    client: Any, controller: Controller, job_name: str
) -> None:
    """A body over the dispatcher's --max-body-bytes: PayloadTooLarge (413)."""
    controller.active_job(job_name)
    client.subscribe(job_name)
    with pytest.raises(PayloadTooLarge) as caught:
        client.publish(job_name, [new_message("x" * (BODY_LIMIT + 1))])
    assert caught.value.status_code == 413 and str(BODY_LIMIT) in str(caught.value)  # type: ignore[attr-defined]


@pytest.mark.slow  # two publishes wait out the dispatcher's 10 s broker timeout in turn
def test_broker_failure_raises_publish_failed_listing_the_ids(
    stack: DevStack, controller: Controller, job_name: str, tmp_path: Path
) -> None:
    """The job's broker file is write-locked by another process past the dispatcher's broker
    timeout: publish raises PublishFailed (a retryable BrokerUnavailable, 503) with the
    failed ids, through both clients at once; once the lock goes, publish works again."""
    db = tmp_path / "broker.db"
    config = {"type": "sqlite", "config": {"topic": job_name, "path": str(db)}}
    controller.active_job(job_name, queue_config=config)
    url = stack.dispatcher_url
    with DispatcherClient(url) as sync_client:
        sync_client.subscribe(job_name)
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        raised: list[BaseException] = []

        def publish_sync() -> None:
            try:
                sync_client.publish(job_name, [new_message(1), new_message(2)])
            except BaseException as exc:
                raised.append(exc)

        async def publish_async() -> None:
            async with AsyncDispatcherClient(url) as async_client:
                await async_client.publish(job_name, [new_message(3), new_message(4)])

        thread = threading.Thread(target=publish_sync)
        thread.start()
        try:
            with pytest.raises(PublishFailed) as caught:
                asyncio.run(publish_async())
            thread.join(60)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert len(raised) == 1 and isinstance(raised[0], PublishFailed), raised
        for exc in (caught.value, raised[0]):
            assert isinstance(exc, BrokerUnavailable) and is_retryable(exc)
            assert exc.code == "publish_failed" and exc.status_code == 503  # type: ignore[attr-defined]
            assert len(exc.failed_ids) == 2 and str(db) in str(exc)  # type: ignore[attr-defined]
        assert len(sync_client.publish(job_name, [new_message(5)])) == 1


def test_connection_refused_raises_dispatcher_unavailable(make_client: ClientFactory) -> None:
    """Nothing listening: DispatcherUnavailable, retryable, naming the dispatcher."""
    url = f"http://127.0.0.1:{free_port()}"
    client = make_client(url)
    started = time.monotonic()
    with pytest.raises(DispatcherUnavailable) as caught:
        client.poll("anything", max_wait_ms=1000)
    assert time.monotonic() - started < 5
    exc = caught.value
    assert is_retryable(exc) and isinstance(exc, ServiceUnavailable)
    assert url in str(exc) and exc.dispatcher_url == url


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_read_timeout_is_max_wait_plus_margin(
    make_client: ClientFactory, silent_server: str, stack: DevStack, controller: Controller,
    job_name: str,
) -> None:  # fmt: skip
    """A poll's read timeout is its max_wait_ms plus the client timeout: a silent server
    times out after both (DispatcherUnavailable), a real long poll longer than the client
    timeout alone completes."""
    client = make_client(silent_server, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DispatcherUnavailable) as caught:
        client.poll("anything", max_wait_ms=1000)
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 5, elapsed
    assert "no reply" in str(caught.value)

    controller.active_job(job_name)
    real = make_client(stack.dispatcher_url, timeout=0.5)
    real.subscribe(job_name)
    started = time.monotonic()
    assert real.poll(job_name, max_wait_ms=1500) == []
    assert time.monotonic() - started >= 1.4


# -- token-protected dispatcher and a dispatcher without its controller ---------------------


class Split:
    """`jobqueue controller` + `jobqueue dispatcher --token`, as separate processes."""

    def __init__(self, root: Path) -> None:
        db = f"sqlite:///{root / 'controller.db'}"
        migrate = [sys.executable, "-m", "jobqueue", "migrate", "--db", db]
        done = subprocess.run(migrate, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        self.controller = ServiceProcess(root, "controller", "--db", db, "--token", ADMIN)
        self.dispatcher = ServiceProcess(
            root, "dispatcher", "--controller", self.controller.url,
            "--controller-token", ADMIN, "--token", WORKER, "--data-dir", str(root / "data"),
        )  # fmt: skip
        self.orphan = ServiceProcess(
            root, "dispatcher", "--controller", f"http://127.0.0.1:{free_port()}",
            "--data-dir", str(root / "orphan"),
        )  # fmt: skip

    def start(self) -> Split:
        for service in (self.controller, self.dispatcher, self.orphan):
            try:
                service.start()
            except RuntimeError as exc:
                self.stop()
                pytest.fail(str(exc))
        return self

    def stop(self) -> None:
        for service in (self.orphan, self.dispatcher, self.controller):
            service.stop()


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    services = Split(tmp_path_factory.mktemp("split")).start()
    yield services
    services.stop()


def test_missing_or_wrong_token_raises_unauthorized(
    split: Split, make_client: ClientFactory
) -> None:
    """A token-protected dispatcher: no token or a wrong one raises Unauthorized (401) and
    the token never shows in the error; the right one gets through."""
    for token in (None, "wrong-token"):
        client = make_client(split.dispatcher.url, token=token)
        with pytest.raises(Unauthorized) as caught:
            client.subscribe("anything")
        assert caught.value.status_code == 401 and not is_retryable(caught.value)  # type: ignore[attr-defined]
        assert "wrong-token" not in str(caught.value) and WORKER not in str(caught.value)
    authorized = make_client(split.dispatcher.url, token=WORKER)
    with pytest.raises(JobNotFound):
        authorized.subscribe("anything")
    authorized.health()


def test_unreachable_controller_raises_controller_unavailable(
    split: Split, make_client: ClientFactory
) -> None:
    """Subscribing through a dispatcher whose controller is down: ControllerUnavailable (503,
    retryable)."""
    client = make_client(split.orphan.url)
    with pytest.raises(ControllerUnavailable) as caught:
        client.subscribe("anything")
    assert is_retryable(caught.value) and caught.value.status_code == 503  # type: ignore[attr-defined]


# -- the mapping table ------------------------------------------------------------------


def test_every_error_code_maps_to_its_class() -> None:
    """The table is built from jobqueue.errors: each class's code maps back to it, uniquely."""
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, JobQueueError)
    ]
    assert len({cls.code for cls in classes}) == len(classes), "duplicate codes"
    for cls in classes:
        assert ERROR_TYPES[cls.code] is cls
    assert ERROR_TYPES[DispatcherUnavailable.code] is DispatcherUnavailable


def test_unknown_code_or_non_json_reply_falls_back_to_the_status() -> None:
    """A code this client does not know, or a body that is not an error reply, maps by HTTP
    status; a proxy's 502 is DispatcherUnavailable."""
    url = "http://d:1"
    unknown = error_from_reply(404, b'{"error": "gone", "code": "new_code"}', url=url)
    assert type(unknown) is NotFound and str(unknown) == "gone"
    html = error_from_reply(503, b"<html>busy</html>", url=url)
    assert type(html) is ServiceUnavailable and "503" in str(html)
    assert isinstance(error_from_reply(502, b"bad gateway", url=url), DispatcherUnavailable)
    assert type(error_from_reply(500, b"", url=url)) is JobQueueError


def poll_until(client: Any, job: str, count: int, timeout_s: float = 10.0) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        got += client.poll(job, max_wait_ms=300, max_messages=count - len(got))
    assert len(got) == count, f"got {len(got)} of {count} messages"
    return got
