"""``jobqueue publish`` and ``jobqueue dlq``: talk to a dispatcher from the shell.

Both are built on `jobqueue.client.DispatcherClient`; errors print the dispatcher's message
and exit with status 1, never a traceback.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

import click
import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobqueue.client import (
    DEFAULT_DISPATCHER_URL,
    DispatcherClient,
    DLQMessage,
    JobQueueError,
    Message,
    dead_letter_message,
    is_retryable,
)
from jobqueue.models import decode_json

DISPATCHER_ENV = "JOBQUEUE_DISPATCHER"
TOKEN_ENV = "JOBQUEUE_DISPATCHER_TOKEN"
MAX_BATCH = 1000

F = TypeVar("F", bound=Callable[..., Any])


def dispatcher_client_options(command: F) -> F:
    command = click.option(
        "--token",
        envvar=TOKEN_ENV,
        default=None,
        help=f"Bearer token of the dispatcher (env {TOKEN_ENV}).",
    )(command)
    return click.option(
        "--dispatcher",
        "dispatcher_url",
        envvar=DISPATCHER_ENV,
        default=DEFAULT_DISPATCHER_URL,
        show_default=True,
        help=f"Dispatcher base URL (env {DISPATCHER_ENV}).",
    )(command)


def _client(url: str, token: str | None) -> DispatcherClient:
    try:
        return DispatcherClient(url, token=token)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dispatcher") from None


# -- publish ---------------------------------------------------------------------------------


class _BadLine(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


def _as_message(text: bytes, where: str, whole: bool, lenient: bool) -> Message:
    if whole:
        try:
            return decode_json(text, Message)
        except JobQueueError as exc:
            raise _BadLine(where, str(exc)) from None
    try:
        msgspec.json.decode(text)
    except msgspec.DecodeError:
        if not lenient:
            raise _BadLine(where, "not valid JSON (use --messages for message objects)") from None
        text = msgspec.json.encode(text.decode())  # a shell argument that is not JSON: a string
    return Message(data=msgspec.Raw(text))


def _inputs(
    args: tuple[str, ...], stream: IO[bytes] | None, whole: bool
) -> Iterator[tuple[Message, int]]:
    """(message, bytes consumed) from the arguments, then the JSON-lines stream."""
    for i, arg in enumerate(args, 1):
        yield _as_message(arg.encode().strip(), f"argument {i}", whole, lenient=True), 0
    if stream is None:
        return
    name = getattr(stream, "name", "<stdin>")
    for number, line in enumerate(stream, 1):
        text = line.strip()
        if text:  # blank lines are skipped
            yield _as_message(text, f"{name}:{number}", whole, lenient=False), len(line)


def _stream_size(stream: IO[bytes] | None) -> int | None:
    if stream is None:
        return None
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, ValueError):
        return None
    return size or None


def _progress(enabled: bool | None) -> Progress:
    console = Console(stderr=True)
    show = console.is_terminal if enabled is None else enabled
    return Progress(
        TextColumn("publishing"),
        BarColumn(),
        TextColumn("{task.fields[count]} message(s)"),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
        transient=False,
    )


def _publish_batch(
    client: DispatcherClient, job: str, batch: list[Message], retries: int
) -> list[int]:
    delay = 0.5
    for attempt in range(retries + 1):
        try:
            return client.publish(job, batch)
        except JobQueueError as exc:
            if not is_retryable(exc) or attempt == retries:
                raise
            click.echo(f"publish failed ({exc}); retrying in {delay:.1f}s", err=True)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    raise AssertionError("unreachable")


@click.command()
@click.argument("job_name")
@click.argument("data", nargs=-1)
@click.option(
    "-f",
    "--file",
    "stream",
    type=click.File("rb"),
    help="JSON lines to publish, one message a line ('-' for stdin).",
)
@click.option(
    "--messages",
    "whole",
    is_flag=True,
    help="Each input is a whole message object {data, external_id, name, error_policy...}, "
    "not just its data.",
)
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, MAX_BATCH),
    help="Messages a request.",
)
@click.option(
    "--retries",
    default=3,
    show_default=True,
    type=click.IntRange(0),
    help="Retries of a batch while the dispatcher or broker is unavailable (a retry after a "
    "lost reply can publish a batch twice).",
)
@click.option("--ids", "print_ids", is_flag=True, help="Print the published ids, one a line.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: when stderr is a terminal).",
)
@dispatcher_client_options
def publish(
    job_name: str,
    data: tuple[str, ...],
    stream: IO[bytes] | None,
    whole: bool,
    batch_size: int,
    retries: int,
    print_ids: bool,
    progress: bool | None,
    dispatcher_url: str,
    token: str | None,
) -> None:
    """Publish messages to JOB_NAME through a dispatcher.

    Each DATA argument is one message's data as JSON (an argument that is not valid JSON is
    published as a string); -f FILE reads JSON lines; with neither, JSON lines come from
    stdin. The job is subscribed first. Examples:

        jobqueue publish echo '{"hello": "world"}' 42

        jobqueue publish echo -f orders.jsonl --messages
    """
    if not data and stream is None:
        if sys.stdin.isatty():
            raise click.UsageError("nothing to publish: give DATA arguments, -f FILE or stdin")
        stream = sys.stdin.buffer
    published = 0
    batch: list[Message] = []
    batch_bytes = 0
    with _client(dispatcher_url, token) as client, _progress(progress) as bar:
        task: TaskID = bar.add_task("publish", total=_stream_size(stream), count=0)

        def flush() -> None:
            nonlocal published, batch, batch_bytes
            ids = _publish_batch(client, job_name, batch, retries)
            published += len(ids)
            if print_ids:
                click.echo("\n".join(map(str, ids)))
            bar.update(task, advance=batch_bytes, count=published)
            batch, batch_bytes = [], 0

        try:
            client.subscribe(job_name)
            for message, size in _inputs(data, stream, whole):
                batch.append(message)
                batch_bytes += size
                if len(batch) >= batch_size:
                    flush()
            if batch:
                flush()
        except _BadLine as exc:
            raise click.ClickException(
                f"{exc}; published {published} message(s) before it"
            ) from None
        except JobQueueError as exc:
            done = f" (published {published} message(s) before the failed batch)" if batch else ""
            raise click.ClickException(f"{exc}{done}") from None
    click.echo(f"published {published} message(s) to job {job_name!r}", err=True)


# -- dlq -------------------------------------------------------------------------------------


def _letter_row(letter: DLQMessage) -> dict[str, Any]:
    message = dead_letter_message(letter)
    row: dict[str, Any] = {"id": letter.id, "reason": letter.reason}
    if message is None:
        row["raw_job"] = base64.b64encode(letter.raw_job).decode()
    else:
        row["message"] = msgspec.json.decode(msgspec.json.encode(message))
    return row


def _print_letters(letters: list[DLQMessage], as_json: bool) -> None:
    if as_json:
        for letter in letters:
            click.echo(json.dumps(_letter_row(letter)))
        return
    if not letters:
        return
    table = Table("dlq id", "reason", "message id", "external id", "attempt", "data")
    for letter in letters:
        message = dead_letter_message(letter)
        if message is None:
            table.add_row(str(letter.id), letter.reason, "-", "-", "-", repr(letter.raw_job[:60]))
            continue
        data = bytes(message.data).decode(errors="replace")
        shown = data if len(data) <= 80 else data[:77] + "..."
        table.add_row(str(letter.id), letter.reason, str(message.id), message.external_id,
                      str(message.attempt), shown)  # fmt: skip
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)


@click.command()
@click.argument("job_name")
@click.option(
    "--max",
    "max_messages",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Dead letters to read (or to redrive).",
)
@click.option(
    "--wait-ms",
    default=1000,
    show_default=True,
    type=click.IntRange(0, 300_000),
    help="How long to wait for dead letters.",
)
@click.option("--ack", is_flag=True, help="Delete the letters read (default: put them back).")
@click.option(
    "--redrive",
    is_flag=True,
    help="Move up to --max letters back to --target (attempts reset) instead of reading them.",
)
@click.option(
    "--target",
    default="main",
    show_default=True,
    help="Where --redrive puts them: main or retry_<i>.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object a letter.")
@dispatcher_client_options
def dlq(
    job_name: str,
    max_messages: int,
    wait_ms: int,
    ack: bool,
    redrive: bool,
    target: str,
    as_json: bool,
    dispatcher_url: str,
    token: str | None,
) -> None:
    """Read or redrive JOB_NAME's dead-letter queue through a dispatcher.

    Reading shows up to --max letters and puts them back (or deletes them with --ack);
    --redrive moves them to the main queue or a retry queue.
    """
    if redrive and ack:
        raise click.UsageError("--ack and --redrive exclude each other")
    with _client(dispatcher_url, token) as client:
        try:
            client.subscribe(job_name)
            if redrive:
                moved = _redrive(client, job_name, max_messages, target)
                click.echo(f"moved {moved} dead letter(s) of job {job_name!r} to {target}")
                return
            letters = _read(client, job_name, max_messages, wait_ms)
            _print_letters(letters, as_json)
            if letters:
                ids = [letter.id for letter in letters]
                reply = client.ack(job_name, ids) if ack else client.nack(job_name, ids)
                if reply.failed_ids or reply.bad_ids:
                    raise click.ClickException(
                        f"{len(reply.failed_ids) + len(reply.bad_ids)} letter(s) could not be "
                        f"{'deleted' if ack else 'put back'}: {reply.error or 'lease expired'}"
                    )
        except JobQueueError as exc:
            raise click.ClickException(str(exc)) from None
    verb = "deleted" if ack else "read (left in the DLQ)"
    click.echo(f"{len(letters)} dead letter(s) {verb}", err=True)


def _read(client: DispatcherClient, job: str, count: int, wait_ms: int) -> list[DLQMessage]:
    letters: list[DLQMessage] = []
    while len(letters) < count:
        want = min(count - len(letters), MAX_BATCH)
        wait = wait_ms if not letters else min(wait_ms, 200)
        batch = client.poll_dlq(job, max_wait_ms=wait, max_messages=want)
        if not batch:
            break
        letters += batch
    return letters


def _redrive(client: DispatcherClient, job: str, count: int, target: str) -> int:
    moved = 0
    while moved < count:
        step = client.redrive(job, max_messages=min(count - moved, MAX_BATCH), target=target)
        if step == 0:
            break
        moved += step
    return moved
