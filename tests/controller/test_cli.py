"""`jobqueue job ...` against a live controller, and `jobqueue controller` as a process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from jobqueue.cli import main

if TYPE_CHECKING:
    from conftest import Api


JOB_YAML = """\
name: thumbnails
description: make thumbnails
type: consumer
queue_config:
  type: sqlite
  config:
    topic: images
retry_config:
  backoffs: [1000, 5000]
max_processing_time_ms: 60000
"""


@pytest.fixture
def backend() -> str:
    """The CLI only speaks HTTP: one database backend is enough for these tests."""
    return "sqlite"


def run(api: Api, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--controller", api.url], input=input)


def ok(api: Api, *args: str, input: str | None = None) -> str:
    result = run(api, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.output


def as_json(api: Api, *args: str) -> Any:
    return json.loads(ok(api, *args, "--json"))


@pytest.fixture
def job_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(JOB_YAML)
    return path


def test_create_from_yaml_prints_a_table(api: Api, job_yaml: Path) -> None:
    """`job create -f job.yaml` creates the job and shows it as a table."""
    output = ok(api, "job", "create", "-f", str(job_yaml))
    assert "thumbnails" in output and "stopped" in output and "images" in output
    assert api.ok("GET", "/api/v1/job/thumbnails/")["job"]["retry_config"] == {
        "backoffs": [1000, 5000]
    }


def test_create_from_json_with_json_output(api: Api, tmp_path: Path) -> None:
    """`job create -f job.json --json` prints the controller's reply."""
    path = tmp_path / "job.json"
    path.write_text(json.dumps(yaml.safe_load(JOB_YAML)))
    reply = as_json(api, "job", "create", "-f", str(path))
    assert reply == api.ok("GET", "/api/v1/job/thumbnails/")


def test_create_from_stdin(api: Api) -> None:
    """`-f -` reads the definition from stdin."""
    ok(api, "job", "create", "-f", "-", input=JOB_YAML)
    assert api.ok("GET", "/api/v1/job/thumbnails/")["job"]["version"] == 1


def test_get_list_versions(api: Api, job_yaml: Path) -> None:
    """get, list (with --state) and versions, as tables and as JSON."""
    ok(api, "job", "create", "-f", str(job_yaml))
    api.create("other")
    api.ok("PUT", "/api/v1/job/other/start/")
    assert "make thumbnails" in ok(api, "job", "get", "thumbnails")
    assert as_json(api, "job", "get", "thumbnails")["job"]["name"] == "thumbnails"
    table = ok(api, "job", "list")
    assert "thumbnails" in table and "other" in table and "1000,5000" in table
    names = [job["name"] for job in as_json(api, "job", "list")["jobs"]]
    assert names == ["other", "thumbnails"]
    active = as_json(api, "job", "list", "--state", "active")["jobs"]
    assert [job["name"] for job in active] == ["other"]
    assert len(as_json(api, "job", "versions", "thumbnails")["jobs"]) == 1


def test_update_start_stop_archive(api: Api, job_yaml: Path, tmp_path: Path) -> None:
    """update -f writes version 2; start, stop and archive change the state."""
    ok(api, "job", "create", "-f", str(job_yaml))
    change = tmp_path / "change.yaml"
    change.write_text("description: smaller thumbnails\nmax_processing_time_ms: 1000\n")
    updated = as_json(api, "job", "update", "thumbnails", "-f", str(change))["job"]
    assert (updated["version"], updated["description"]) == (2, "smaller thumbnails")
    assert "active" in ok(api, "job", "start", "thumbnails")
    assert as_json(api, "job", "stop", "thumbnails")["job"]["state"] == "stopped"
    assert as_json(api, "job", "archive", "thumbnails")["job"]["state"] == "archived"


def test_update_from_the_output_of_get(api: Api, tmp_path: Path) -> None:
    """`job get --json > f; edit f; job update -f f` works, masked secrets included."""
    api.create("roundtrip", queue_config=api.sasl_config())
    saved = tmp_path / "job.json"
    document = as_json(api, "job", "get", "roundtrip")
    document["job"]["description"] = "edited"
    saved.write_text(json.dumps(document))
    updated = as_json(api, "job", "update", "roundtrip", "-f", str(saved))["job"]
    assert (updated["version"], updated["description"]) == (2, "edited")
    body = {"dispatcher_id": "d", "job_name": "roundtrip"}
    job = api.ok("POST", "/api/v1/dispatcher/register/", body)["job"]
    assert job["queue_config"]["config"]["sasl_password"] == api.SECRET


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["job", "get", "nope"], "controller answered 404: job 'nope' not found"),
        (["job", "start", "nope"], "controller answered 404: job 'nope' not found"),
        (["job", "list", "--state", "bogus"], "Invalid value for '--state'"),
    ],
)
def test_errors_print_the_server_text_without_traceback(
    api: Api, args: list[str], expected: str
) -> None:
    """A failing call exits non-zero with the controller's error text, no traceback."""
    result = run(api, *args)
    assert result.exit_code != 0
    assert expected in result.output
    assert "Traceback" not in result.output


def test_invalid_definition_reports_the_field(api: Api, tmp_path: Path) -> None:
    """A definition the controller rejects shows its 400 text naming the field."""
    path = tmp_path / "bad.yaml"
    path.write_text(JOB_YAML.replace("max_processing_time_ms: 60000", "max_processing_time_ms: 0"))
    result = run(api, "job", "create", "-f", str(path))
    assert result.exit_code == 1
    assert "controller answered 400" in result.output
    assert "max_processing_time_ms" in result.output


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("list.yaml", "- a\n- b\n", "expected a mapping"),
        ("broken.yaml", "name: [unclosed\n", "not valid YAML"),
        ("broken.json", '{"name": ', "not valid JSON"),
    ],
)
def test_unreadable_definition_files(
    api: Api, tmp_path: Path, name: str, content: str, expected: str
) -> None:
    """Files that are not a mapping of job fields are refused before any call."""
    path = tmp_path / name
    path.write_text(content)
    result = run(api, "job", "create", "-f", str(path))
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output


def test_unreachable_controller(tmp_path: Path) -> None:
    """No controller at the URL: a clear error naming it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = CliRunner().invoke(main, ["job", "list", "--controller", url])
    assert result.exit_code == 1
    assert f"cannot reach the controller at {url}" in result.output
    assert "Traceback" not in result.output


def test_controller_url_and_token_from_the_environment(make_api: Callable[..., Api]) -> None:
    """JOBQUEUE_CONTROLLER and JOBQUEUE_CONTROLLER_TOKEN configure the CLI; 401 without."""
    api = make_api(token="cli-token")
    api.create("guarded")
    runner = CliRunner()
    denied = runner.invoke(main, ["job", "get", "guarded"], env={"JOBQUEUE_CONTROLLER": api.url})
    assert denied.exit_code == 1
    assert "controller answered 401: missing bearer token" in denied.output
    env = {"JOBQUEUE_CONTROLLER": api.url, "JOBQUEUE_CONTROLLER_TOKEN": "cli-token"}
    allowed = runner.invoke(main, ["job", "get", "guarded"], env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "guarded" in allowed.output
    flag = runner.invoke(main, ["job", "list", "--controller", api.url, "--token", "cli-token"])
    assert flag.exit_code == 0 and "guarded" in flag.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_controller_command_serves_with_a_token(db_url: str) -> None:
    """`jobqueue controller --db --host --port` serves the API, token from the environment."""
    port = _free_port()
    env = {**os.environ, "JOBQUEUE_CONTROLLER_TOKEN": "proc-token"}
    command = [
        sys.executable,
        "-c",
        "from jobqueue.cli import main; main()",
        "controller",
        "--db",
        db_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "controller did not answer /health in 30 s"
            time.sleep(0.1)
        assert httpx.get(f"{url}/api/v1/job/").status_code == 401
        authorized = {"authorization": "Bearer proc-token"}
        reply = httpx.get(f"{url}/api/v1/job/", headers=authorized)
        assert reply.status_code == 200 and reply.json() == {"jobs": []}
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr  # a graceful shutdown, not a death by signal
    messages = [json.loads(line)["msg"] for line in stderr.splitlines() if line.startswith("{")]
    assert "controller starting" in messages, stderr
    assert "Application shutdown complete." in messages, stderr
    assert "proc-token" not in stderr
