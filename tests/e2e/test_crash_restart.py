"""Crashes and shutdowns of a real `jobqueue dev` process: nothing accepted is lost."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from jobqueue.testing.processes import DevStack
from tests.e2e.conftest import DEV_ARGS, Api

TOTAL = 600
BATCH = 20


def _job(api: Api, name: str) -> None:
    api.create_job(
        name,
        {"type": "sqlite", "config": {"topic": name}},
        max_processing_time_ms=1500,
        retry_config={"backoffs": [100]},
    )
    api.start_job(name)


def _consume(
    api: Api, name: str, delivered: Counter[int], acked: Counter[int], stop: threading.Event
) -> None:
    """A worker: poll, ack, count; survives the dispatcher going away and coming back."""
    while not stop.is_set():
        try:
            for path, extra in (("messages", {}), ("messages/retry", {"retry_queue": 0})):
                response = api.worker(path, name=name, max_wait_ms=200, max_messages=50, **extra)
                if response.status_code == 404:
                    api.worker("subscribe", name=name)
                    continue
                if response.status_code != 200:
                    continue
                ids = [m["id"] for m in response.json()["msgs"]]
                delivered.update(ids)
                if ids and api.worker("ack", name=name, msg_ids=ids).status_code == 200:
                    acked.update(ids)
        except httpx.HTTPError:
            time.sleep(0.1)  # dispatcher down: retry like a real worker


def test_kill_9_mid_stream_and_restart_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL `jobqueue dev` while publishing and consuming, restart on the same data dir:
    every message whose publish returned 200 is delivered and acked (duplicates counted)."""
    data = tmp_path / "data"
    stack = DevStack(data, *DEV_ARGS).start()
    api = Api(stack.controller_url, stack.dispatcher_url)
    name = "crash"
    _job(api, name)
    api.subscribe(name)

    accepted: list[int] = []
    acked: Counter[int] = Counter()
    delivered: Counter[int] = Counter()
    stop = threading.Event()
    worker = threading.Thread(
        target=_consume, args=(api, name, delivered, acked, stop), daemon=True
    )
    worker.start()
    killed = False
    restarted: DevStack | None = None
    try:
        for start in range(0, TOTAL, BATCH):
            msgs = [{"data": {"n": n}} for n in range(start, start + BATCH)]
            if not killed and start >= TOTAL // 2:
                stack.kill()  # mid-stream: the worker holds un-acked messages right now
                killed = True
                restarted = DevStack(data, *DEV_ARGS)
                restarted.controller_port = stack.controller_port
                restarted.dispatcher_port = stack.dispatcher_port
                restarted.start()
                api.subscribe(name)
            try:
                response = api.worker("publish", name=name, msgs=msgs)
            except httpx.HTTPError:
                continue  # not accepted: not counted
            if response.status_code == 200:
                accepted += response.json()["ids"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(accepted) <= set(acked):
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(timeout=10)
        api.close()
        assert restarted is not None
        code = restarted.stop()
    missing = set(accepted) - set(acked)
    redelivered = sum(count - 1 for count in delivered.values())
    acked_twice = sum(count - 1 for count in acked.values())
    print(
        f"\ncrash test: published {len(accepted)}, acked {len(set(acked))}, "
        f"deliveries {sum(delivered.values())} ({redelivered} redelivered), "
        f"acked twice {acked_twice}, missing {len(missing)}"
    )
    assert len(accepted) == TOTAL
    assert not missing, f"{len(missing)} accepted messages never acked"
    assert code == 0


def test_sigterm_drains_in_flight_before_exit(tmp_path: Path) -> None:
    """On SIGTERM the dispatcher stops handing out (503) but still takes the ack of a held
    message, then exits cleanly; the message is not redelivered after a restart."""
    stack = DevStack(tmp_path / "data", *DEV_ARGS).start()
    api = Api(stack.controller_url, stack.dispatcher_url)
    try:
        _job(api, "drain")
        api.subscribe("drain")
        held, left = api.publish("drain", [{"data": "held"}, {"data": "left"}])
        [msg] = api.poll_until("drain", 1, max_messages=1)
        assert stack.process is not None
        stack.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        response = api.worker("messages", name="drain", max_wait_ms=0)
        assert response.status_code == 503, response.text
        assert api.ack("drain", [msg["id"]])["bad_ids"] == []
        assert stack.process.wait(timeout=20) == 0
    finally:
        api.close()
    again = DevStack(tmp_path / "data", *DEV_ARGS).start()
    api = Api(again.controller_url, again.dispatcher_url)
    try:
        api.subscribe("drain")
        got: list[dict[str, Any]] = api.poll_until("drain", 1)
        time.sleep(1.0)
        got += api.poll("drain", max_wait_ms=500)
        assert [m["id"] for m in got] == [left if msg["id"] == held else held]
    finally:
        api.close()
        assert again.stop() == 0
