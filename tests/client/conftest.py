"""Fixtures of the client SDK tests: real `jobqueue dev` processes and a thin controller API
to create and start jobs (the client itself only speaks to the dispatcher)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobqueue.testing.processes import DevStack

DEV_ARGS = ("--sync-interval", "0.2", "--lease-margin-ms", "1000", "--drain-timeout", "5")
BACKOFFS = [200, 400]


class Controller:
    """Creates, starts and stops jobs over the controller's HTTP API (status checked)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, timeout=30, headers=headers)

    def create_job(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "type": "consumer",
            "queue_config": {"type": "sqlite", "config": {"topic": name}},
            "retry_config": {"backoffs": BACKOFFS},
            "max_processing_time_ms": 5000,
            **fields,
        }
        return self._ok(self.http.post("/api/v1/job/", json=body))["job"]  # type: ignore[no-any-return]

    def start_job(self, name: str) -> None:
        self._ok(self.http.put(f"/api/v1/job/{name}/start/"))

    def stop_job(self, name: str) -> None:
        self._ok(self.http.put(f"/api/v1/job/{name}/stop/"))

    def active_job(self, name: str, **fields: Any) -> str:
        self.create_job(name, **fields)
        self.start_job(name)
        return name

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code == 200, (
            f"{response.request.url}: {response.status_code} {response.text}"
        )
        return response.json()


def start_stack(root: Path, *args: str) -> DevStack:
    """A `jobqueue dev` on free ports; the test fails (never skips) if it cannot start."""
    try:
        return DevStack(root, *DEV_ARGS, *args).start()
    except RuntimeError as exc:
        pytest.fail(f"could not start jobqueue dev: {exc}")


def stop_stack(stack: DevStack) -> None:
    code = stack.stop()
    assert code == 0, f"jobqueue dev exited with {code}; log:\n{stack.log()}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    dev = start_stack(tmp_path_factory.mktemp("dev"))
    yield dev
    stop_stack(dev)


@pytest.fixture
def controller(stack: DevStack) -> Iterator[Controller]:
    api = Controller(stack.controller_url)
    yield api
    api.close()


_counter = itertools.count()


@pytest.fixture
def job_name() -> str:
    """A job (and topic) name unique to this test."""
    return f"c{next(_counter)}-{uuid.uuid4().hex[:8]}"
