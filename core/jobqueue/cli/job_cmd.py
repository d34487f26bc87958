"""``jobqueue job ...``: manage job definitions through the controller's HTTP API.

Every command prints a table by default and the controller's JSON reply with ``--json``.
Errors print the controller's error text and exit with status 1, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click
import httpx
import yaml
from rich.console import Console
from rich.table import Table

DEFAULT_CONTROLLER = "http://127.0.0.1:4000"
CONTROLLER_ENV = "JOBQUEUE_CONTROLLER"
TOKEN_ENV = "JOBQUEUE_CONTROLLER_TOKEN"
TIMEOUT_S = 30.0
JOB_STATES = ("stopped", "active", "deprecated", "archived")

F = TypeVar("F", bound=Callable[..., Any])


class ControllerApi:
    """The few calls the CLI makes; every failure becomes a `click.ClickException`."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"authorization": f"Bearer {token}"} if token else {}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = httpx.request(
                method,
                self.url + path,
                json=body,
                params=params,
                headers=self.headers,
                timeout=TIMEOUT_S,
            )
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"cannot reach the controller at {self.url}: {type(exc).__name__}: {exc}"
            ) from None
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if response.status_code != 200:
            text = reply.get("error") if isinstance(reply, dict) else None
            raise click.ClickException(
                f"controller answered {response.status_code}: {text or response.text.strip()}"
            )
        if not isinstance(reply, dict):
            raise click.ClickException(f"controller at {self.url} sent a reply that is not JSON")
        return reply


def controller_options(command: F) -> F:
    command = click.option(
        "--token",
        envvar=TOKEN_ENV,
        default=None,
        help=f"Bearer token of the controller (env {TOKEN_ENV}).",
    )(command)
    command = click.option(
        "--controller",
        "controller_url",
        envvar=CONTROLLER_ENV,
        default=DEFAULT_CONTROLLER,
        show_default=True,
        help=f"Controller base URL (env {CONTROLLER_ENV}).",
    )(command)
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the controller's JSON reply."
    )(command)


def read_definition(stream: IO[str]) -> dict[str, Any]:
    """A job definition from a YAML or JSON file (JSON is read as JSON, all else as YAML)."""
    name = getattr(stream, "name", "-")
    text = stream.read()
    try:
        data = json.loads(text) if str(name).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{name}: not valid {_kind(name)}: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{name}: expected a mapping of job fields at the top level")
    return data


def _kind(name: str) -> str:
    return "JSON" if str(name).endswith(".json") else "YAML"


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    return console


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def print_jobs(jobs: list[dict[str, Any]]) -> None:
    table = Table(
        "name",
        "version",
        "state",
        "type",
        "broker",
        "max processing (ms)",
        "backoffs (ms)",
        "description",
    )
    for job in jobs:
        retry = job.get("retry_config") or {}
        table.add_row(
            job["name"],
            str(job["version"]),
            job["state"],
            job["type"],
            job["queue_config"]["type"],
            str(job["max_processing_time"]),
            ",".join(str(b) for b in retry.get("backoffs", [])) or "-",
            job.get("description", ""),
        )
    _console().print(table)


def print_job(job: dict[str, Any]) -> None:
    table = Table("field", "value", show_header=False)
    for key, value in job.items():
        table.add_row(key, value if isinstance(value, str) else _compact(value))
    _console().print(table)


def _emit(reply: dict[str, Any], as_json: bool, show: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        click.echo(json.dumps(reply, indent=2))
    else:
        show(reply)


def _one(reply: dict[str, Any]) -> None:
    print_job(reply["job"])


def _many(reply: dict[str, Any]) -> None:
    print_jobs(reply["jobs"])


def _job_path(name: str, suffix: str = "") -> str:
    return f"/api/v1/job/{name}/{suffix}"


@click.group()
def job() -> None:
    """Create, inspect, update, start, stop and archive jobs on a controller."""


@job.command("create")
@click.option(
    "-f",
    "--file",
    "stream",
    type=click.File("r"),
    required=True,
    help="Job definition, YAML or JSON ('-' for stdin).",
)
@controller_options
def create_job(stream: IO[str], controller_url: str, token: str | None, as_json: bool) -> None:
    """Create a job from a definition file (it starts stopped, version 1)."""
    body = read_definition(stream)
    reply = ControllerApi(controller_url, token).call("POST", "/api/v1/job/", body)
    _emit(reply, as_json, _one)


@job.command("get")
@click.argument("name")
@controller_options
def get_job(name: str, controller_url: str, token: str | None, as_json: bool) -> None:
    """Show the live version of a job (secrets masked)."""
    _emit(ControllerApi(controller_url, token).call("GET", _job_path(name)), as_json, _one)


@job.command("list")
@click.option(
    "--state",
    type=click.Choice(JOB_STATES),
    help="Every job version in this state (default: live stopped and active jobs).",
)
@controller_options
def list_jobs(state: str | None, controller_url: str, token: str | None, as_json: bool) -> None:
    """List jobs."""
    params = {"state": state} if state else None
    reply = ControllerApi(controller_url, token).call("GET", "/api/v1/job/", params=params)
    _emit(reply, as_json, _many)


@job.command("versions")
@click.argument("name")
@controller_options
def job_versions(name: str, controller_url: str, token: str | None, as_json: bool) -> None:
    """Every version of a job, oldest first."""
    reply = ControllerApi(controller_url, token).call("GET", _job_path(name, "versions/"))
    _emit(reply, as_json, _many)


@job.command("update")
@click.argument("name")
@click.option(
    "-f",
    "--file",
    "stream",
    type=click.File("r"),
    required=True,
    help="Fields to change, YAML or JSON ('-' for stdin); writes version n+1.",
)
@controller_options
def update_job(
    name: str, stream: IO[str], controller_url: str, token: str | None, as_json: bool
) -> None:
    """Update a job: writes a new version with the fields in the file.

    A file made from `jobqueue job get NAME --json` works: fields the update does not take
    (name, state, version...) are dropped, and masked secrets keep their stored value.
    """
    body = _update_fields(read_definition(stream))
    reply = ControllerApi(controller_url, token).call("POST", _job_path(name), body)
    _emit(reply, as_json, _one)


_UPDATE_FIELDS = {
    "description",
    "queue_config",
    "retry_config",
    "max_processing_time_ms",
    "error_policy",
    "emit_acks",
}


def _update_fields(data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(data.get("job"), dict):  # the reply of `jobqueue job get --json`
        data = data["job"]
    if "max_processing_time" in data and "max_processing_time_ms" not in data:
        data = {**data, "max_processing_time_ms": data["max_processing_time"]}
    return {key: value for key, value in data.items() if key in _UPDATE_FIELDS}


def _transition(action: str, method: str, suffix: str, summary: str) -> click.Command:
    @click.argument("name")
    @controller_options
    def command(name: str, controller_url: str, token: str | None, as_json: bool) -> None:
        reply = ControllerApi(controller_url, token).call(method, _job_path(name, suffix))
        _emit(reply, as_json, _one)

    command.__doc__ = summary
    return job.command(action)(command)


start_job = _transition("start", "PUT", "start/", "Start a job: its dispatchers hand out messages.")
stop_job = _transition("stop", "PUT", "stop/", "Stop a job: polls are refused, acks still work.")
archive_job = _transition("archive", "DELETE", "", "Archive a job (its name is never reused).")

__all__ = ["job", "read_definition"]
