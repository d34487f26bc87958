"""`jobqueue publish` and `jobqueue dlq` against a real `jobqueue dev` (run in-process through
click's runner; the dispatcher is a real process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jobqueue.cli import main
from jobqueue.client import DispatcherClient, message_data, new_message
from jobqueue.testing.processes import DevStack
from tests.client.conftest import Controller


def run(stack: DevStack, *args: str, input: str | None = None) -> Result:
    env = {"JOBQUEUE_DISPATCHER": stack.dispatcher_url}
    return CliRunner().invoke(main, list(args), input=input, env=env)


def drain(stack: DevStack, job: str) -> list[Any]:
    """The data of every message in the main queue, acked (so nothing is left)."""
    data: list[Any] = []
    with DispatcherClient(stack.dispatcher_url) as client:
        while batch := client.poll(job, max_wait_ms=500, max_messages=500):
            data += [message_data(m) for m in batch]
            assert client.ack(job, [m.id for m in batch]).bad_ids == []
    return data


def dead_letter(stack: DevStack, job: str, values: list[Any]) -> None:
    """Publish ``values`` and nack each once: the job's error policy sends them to the DLQ."""
    with DispatcherClient(stack.dispatcher_url) as client:
        client.subscribe(job)
        client.publish(job, [new_message(v) for v in values])
        got: list[int] = []
        while len(got) < len(values):
            got += [m.id for m in client.poll(job, max_wait_ms=500, max_messages=100)]
        assert client.nack(job, got).bad_ids == []


@pytest.fixture
def job(controller: Controller, job_name: str) -> str:
    """An active consumer job whose nacks go straight to the DLQ (repeat_count 0)."""
    return controller.active_job(job_name, error_policy={"repeat_count": 0, "repeat_backoff": -1})


def test_publish_arguments_as_json_or_strings_and_print_ids(stack: DevStack, job: str) -> None:
    """DATA arguments are JSON, or strings when not JSON; --ids prints one id a line; the
    dispatcher URL comes from JOBQUEUE_DISPATCHER."""
    result = run(stack, "publish", job, '{"a": 1}', "hello", "42", "--ids")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split()) == 3 and all(x.isdigit() for x in result.stdout.split())
    assert "published 3 message(s)" in result.stderr
    assert sorted(map(json.dumps, drain(stack, job))) == sorted(['{"a": 1}', '"hello"', "42"])


def test_publish_a_long_json_lines_file_in_batches_with_progress(
    stack: DevStack, job: str, tmp_path: Path
) -> None:
    """-f FILE: one message a line (blank lines skipped), in batches, with a progress bar."""
    path = tmp_path / "in.jsonl"
    path.write_text("".join(f'{{"n": {i}}}\n' + ("\n" if i == 5 else "") for i in range(1200)))
    result = run(stack, "publish", job, "-f", str(path), "--batch-size", "250", "--progress")
    assert result.exit_code == 0, result.output
    assert "published 1200 message(s)" in result.stderr and "publishing" in result.stderr
    assert sorted(d["n"] for d in drain(stack, job)) == list(range(1200))


def test_publish_from_stdin_whole_messages(stack: DevStack, job: str) -> None:
    """Stdin JSON lines with --messages: each line is a whole message (external_id kept)."""
    lines = '{"data": {"m": 1}, "external_id": "e1"}\n{"data": 2, "name": "two"}\n'
    result = run(stack, "publish", job, "--messages", input=lines)
    assert result.exit_code == 0, result.output
    with DispatcherClient(stack.dispatcher_url) as client:
        got = client.poll(job, max_wait_ms=1000, max_messages=10)
        assert sorted((m.external_id, m.name) for m in got) == [("", "two"), ("e1", "")]
        client.ack(job, [m.id for m in got])


def test_publish_stops_at_a_bad_line_naming_it(stack: DevStack, job: str, tmp_path: Path) -> None:
    """A line that is not JSON stops the publish with exit 1, naming file and line, and says
    how much was published before it."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\nnot json\n{"ok": 3}\n')
    result = run(stack, "publish", job, "-f", str(path), "--batch-size", "1")
    assert result.exit_code == 1
    assert f"{path}:2: not valid JSON" in result.output
    assert "published 1 message(s) before it" in result.output
    assert drain(stack, job) == [{"ok": 1}]


def test_publish_and_dlq_report_dispatcher_errors_without_traceback(stack: DevStack) -> None:
    """An unknown job: exit 1 with the dispatcher's message."""
    for args in (["publish", "no-such-job", "1"], ["dlq", "no-such-job"]):
        result = run(stack, *args)
        assert result.exit_code == 1
        assert "job 'no-such-job' not found" in result.output
        assert "Traceback" not in result.output


def test_dlq_reads_and_puts_back_then_acks(stack: DevStack, job: str) -> None:
    """Reading shows the letters and leaves them in the DLQ; --ack deletes them."""
    dead_letter(stack, job, ["x", "y"])
    first = run(stack, "dlq", job, "--max", "10", "--json")
    assert first.exit_code == 0, first.output
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted(r["message"]["data"] for r in rows) == ["x", "y"]
    assert {r["reason"] for r in rows} == {"max_retry"}

    table = run(stack, "dlq", job, "--ack")
    assert table.exit_code == 0, table.output
    assert "max_retry" in table.stdout and '"x"' in table.stdout
    assert "2 dead letter(s) deleted" in table.stderr
    empty = run(stack, "dlq", job, "--wait-ms", "300", "--json")
    assert empty.exit_code == 0 and empty.stdout == ""


def test_dlq_redrive_moves_letters_back_to_the_main_queue(stack: DevStack, job: str) -> None:
    """--redrive moves up to --max letters to the main queue with attempts reset; a retry
    queue the job lacks is refused."""
    dead_letter(stack, job, [1, 2, 3])
    bad = run(stack, "dlq", job, "--redrive", "--target", "retry_9")
    assert bad.exit_code == 1 and "retry_queue" in bad.output
    result = run(stack, "dlq", job, "--redrive", "--max", "2")
    assert result.exit_code == 0, result.output
    assert "moved 2 dead letter(s)" in result.stdout
    with DispatcherClient(stack.dispatcher_url) as client:
        back = client.poll(job, max_wait_ms=1000, max_messages=10)
        assert len(back) == 2 and {m.attempt for m in back} == {1}
        assert len(client.poll_dlq(job, max_wait_ms=1000)) == 1
