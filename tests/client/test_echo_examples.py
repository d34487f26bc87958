"""The echo examples as a user runs them: `jobqueue dev`, then the producer and the consumer
as separate processes; every message ends acked or dead-lettered as the bias and the retry
policy dictate, counted, nothing lost."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from jobqueue.client import DispatcherClient, dead_letter_message
from jobqueue.testing.processes import DevStack
from tests.client.conftest import BACKOFFS, Controller

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MAX_ATTEMPTS = len(BACKOFFS) + 1  # the default error policy: one pass through each retry queue
COUNT = 120


def example(name: str, *args: str | Path) -> list[str]:
    return [sys.executable, str(EXAMPLES / name), *map(str, args)]


def read_decisions(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def by_id(decisions: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in decisions:
        grouped[entry["id"]].append(entry)
    for entries in grouped.values():
        entries.sort(key=lambda e: e["attempt"])
    return grouped


def finished(entries: list[dict[str, Any]]) -> bool:
    return entries[-1]["decision"] == "ack" or len(entries) >= MAX_ATTEMPTS


def wait_until_all_finished(log: Path, ids: set[int], consumer: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        grouped = by_id(read_decisions(log))
        if ids <= grouped.keys() and all(finished(grouped[i]) for i in ids):
            return
        assert consumer.poll() is None, f"consumer exited early: {consumer.communicate()}"
        time.sleep(0.2)
    done = sum(1 for i in ids if i in grouped and finished(grouped[i]))
    pytest.fail(f"only {done} of {len(ids)} messages reached a final state within 120 s")


def read_dlq(url: str, job: str) -> list[tuple[int, str]]:
    """(message id, reason) of every dead letter, read and deleted through the client."""
    letters: list[tuple[int, str]] = []
    with DispatcherClient(url) as client:
        while True:
            batch = client.poll_dlq(job, max_wait_ms=500, max_messages=100)
            if not batch:
                return letters
            for letter in batch:
                message = dead_letter_message(letter)
                assert message is not None, f"undecodable dead letter {letter.raw_job!r}"
                letters.append((message.id, letter.reason))
            reply = client.ack(job, [letter.id for letter in batch])
            assert reply.failed_ids == [] and reply.bad_ids == [], reply


def assert_queues_empty(url: str, job: str) -> None:
    with DispatcherClient(url) as client:
        assert client.poll(job, max_wait_ms=300) == [], "main queue still has messages"
        for queue in range(len(BACKOFFS)):
            left = client.poll_retry(job, queue, max_wait_ms=300)
            assert left == [], f"retry queue {queue} still has messages"


@pytest.mark.parametrize("success", [0.6, 0.0])
def test_echo_producer_and_consumer_account_for_every_message(
    stack: DevStack, controller: Controller, job_name: str, tmp_path: Path, success: float
) -> None:
    """Producer and consumer subprocesses: each published id is acked once or, after
    1 + len(backoffs) nacks, dead-lettered with reason max_retry; retries come no earlier
    than their backoff; the consumer's counts, the dispatcher's confirmations and the DLQ
    read through the client agree; the queues are left empty."""
    controller.active_job(job_name)
    log, ids_file = tmp_path / "decisions.jsonl", tmp_path / "ids.txt"
    url = stack.dispatcher_url
    consumer = subprocess.Popen(
        example("echo_consumer.py", "--dispatcher", url, "--job", job_name,
                "--success", str(success), "--seed", "7", "--concurrency", "4",
                "--quiet", "--log-file", log),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        producer = subprocess.run(
            example("echo_producer.py", "--dispatcher", url, "--job", job_name,
                    "--count", str(COUNT), "--batch", "50", "--ids-out", ids_file),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert producer.returncode == 0, producer.stderr
        assert f"published {COUNT} message(s)" in producer.stderr
        ids = {int(line) for line in ids_file.read_text().split()}
        assert len(ids) == COUNT

        wait_until_all_finished(log, ids, consumer)
        consumer.send_signal(signal.SIGTERM)
        out, err = consumer.communicate(timeout=60)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.communicate()
    assert consumer.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])

    grouped = by_id(read_decisions(log))
    assert grouped.keys() == ids, "the consumer saw ids that were never published, or missed some"
    acked: set[int] = set()
    dead: set[int] = set()
    for msg_id, entries in grouped.items():
        attempts = [e["attempt"] for e in entries]
        assert attempts == list(range(1, len(entries) + 1)), f"{msg_id}: attempts {attempts}"
        assert all(e["decision"] == "nack" for e in entries[:-1]), f"{msg_id}: {entries}"
        if entries[-1]["decision"] == "ack":
            acked.add(msg_id)
        else:
            assert len(entries) == MAX_ATTEMPTS, f"{msg_id}: nacked {len(entries)} times"
            dead.add(msg_id)
        for before, after in itertools.pairwise(entries):
            backoff_s = BACKOFFS[before["attempt"] - 1] / 1000
            waited = after["received_at"] - before["decided_at"]
            assert waited >= backoff_s - 0.05, f"{msg_id}: retried after {waited:.3f}s"

    nacks = sum(len(entries) for entries in grouped.values()) - len(acked)
    assert summary["acked"] == len(acked) and summary["nacked"] == nacks, summary
    worker = summary["worker"]
    assert worker["acked"] == len(acked) and worker["nacked"] == nacks, worker
    assert worker["stale"] == worker["unsettled"] == worker["abandoned"] == 0, worker

    letters = read_dlq(url, job_name)
    assert sorted(i for i, _ in letters) == sorted(dead), "DLQ differs from the final nacks"
    assert {reason for _, reason in letters} <= {"max_retry"}
    assert acked | dead == ids and not acked & dead
    assert_queues_empty(url, job_name)

    decisions = len(acked) + nacks
    if success == 0.0:
        assert not acked and len(dead) == COUNT
    else:
        ratio = len(acked) / decisions
        assert abs(ratio - success) < 0.15, f"ack ratio {ratio:.2f} for --success {success}"
        assert acked and dead, "with this bias some messages are acked and some dead-lettered"


@pytest.mark.parametrize("name", ["echo_producer.py", "echo_consumer.py"])
def test_examples_have_help(name: str) -> None:
    """Both examples document their flags with --help, including the dispatcher URL."""
    done = subprocess.run(example(name, "--help"), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "--dispatcher" in done.stdout and "--job" in done.stdout
