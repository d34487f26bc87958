"""deploy/compose: the job definitions are valid for the real controller and the loader
script that the compose `jobs` service runs is idempotent.

The controller validates each queue config with the broker plugin's own config type, so
creating the jobs on a `jobqueue dev` controller checks them without any broker running.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobqueue.testing.processes import DevStack
from tests.docs.repo import REPO, load_yaml_documents

JOBS = REPO / "deploy" / "compose" / "jobs"
SCRIPT = REPO / "deploy" / "compose" / "create-jobs.sh"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    dev = DevStack(tmp_path_factory.mktemp("compose-jobs"), "--drain-timeout", "1").start()
    try:
        yield dev
    finally:
        dev.stop()


def _load(stack: DevStack) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
    env["JOBQUEUE_CONTROLLER"] = stack.controller_url
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        ["sh", str(SCRIPT), str(JOBS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_each_file_is_named_after_its_job() -> None:
    """create-jobs.sh finds a job by its file name, so the two must agree."""
    files = sorted(JOBS.glob("*.yaml"))
    assert files
    for path in files:
        (job,) = load_yaml_documents(path)
        assert job["name"] == path.stem


def test_loader_creates_and_starts_every_job_and_is_idempotent(stack: DevStack) -> None:
    """A first run creates and starts each job; a second run changes nothing and succeeds."""
    first = _load(stack)
    assert first.returncode == 0, first.stderr
    second = _load(stack)
    assert second.returncode == 0, second.stderr

    names = {path.stem for path in JOBS.glob("*.yaml")}
    assert second.stdout.count("already exists") == len(names)
    for name in names:
        job = httpx.get(f"{stack.controller_url}/api/v1/job/{name}/").json()["job"]
        assert (job["state"], job["version"]) == ("active", 1), name
