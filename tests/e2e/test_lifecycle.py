"""The message lifecycle over real HTTP against `jobqueue dev`, on each broker under test."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx

from tests.e2e.conftest import Api, QueueConfigFactory


def _ids(msgs: list[dict[str, Any]]) -> list[int]:
    return [m["id"] for m in msgs]


def test_publish_poll_ack_and_second_ack_is_bad(api: Api, consumer_job: str) -> None:
    """publish → poll → ack works; acking the same id again answers it as a bad id."""
    ids = api.publish(consumer_job, [{"data": {"n": 1}, "external_id": "a"}, {"data": [1, 2]}])
    assert len(set(ids)) == 2 and all(0 < i < 2**53 for i in ids)
    msgs = api.poll_until(consumer_job, 2)
    assert sorted(_ids(msgs)) == sorted(ids)
    assert {json.dumps(m["data"]) for m in msgs} == {'{"n": 1}', "[1, 2]"}
    assert all(m["attempt"] == 1 for m in msgs)
    assert api.ack(consumer_job, ids) == {"failed_ids": [], "bad_ids": [], "error": ""}
    assert api.ack(consumer_job, ids[:1])["bad_ids"] == ids[:1]
    assert api.poll(consumer_job, max_wait_ms=300) == []


def test_ack_of_never_issued_id_is_bad(api: Api, consumer_job: str) -> None:
    """Ids the dispatcher never issued come back as bad_ids, for ack and nack."""
    assert api.ack(consumer_job, [12345])["bad_ids"] == [12345]
    assert api.nack(consumer_job, [12345])["bad_ids"] == [12345]


def test_long_poll_returns_as_soon_as_a_message_arrives(api: Api, consumer_job: str) -> None:
    """A waiting poll answers soon after a publish, not at max_wait_ms; empty after the wait."""
    started = time.monotonic()
    assert api.poll(consumer_job, max_wait_ms=700) == []
    waited = time.monotonic() - started
    assert 0.6 <= waited < 3.0

    with httpx.Client(base_url=str(api.dispatcher.base_url), timeout=30) as other:
        started = time.monotonic()
        import threading

        result: list[Any] = []
        poller = threading.Thread(
            target=lambda: result.append(
                other.post(
                    "/api/v1/worker/messages",
                    json={"name": consumer_job, "max_wait_ms": 10_000},
                ).json()
            )
        )
        poller.start()
        time.sleep(0.3)
        api.publish(consumer_job, [{"data": "wake"}])
        poller.join(timeout=15)
    assert result and result[0]["msgs"][0]["data"] == "wake"
    assert time.monotonic() - started < 5.0


def test_nack_goes_through_retry_queues_with_backoff_then_dlq(api: Api, consumer_job: str) -> None:
    """nack → retry_0 (≥300 ms later) → retry_1 (≥600 ms) → DLQ with reason and bytes."""
    [msg_id] = api.publish(
        consumer_job,
        [{"data": {"k": "v"}, "error_policy": {"repeat_count": 2, "repeat_backoff": -1}}],
    )
    [first] = api.poll_until(consumer_job, 1)
    assert first["attempt"] == 1

    for queue, backoff_ms, attempt in ((0, 300, 2), (1, 600, 3)):
        nacked_at = time.monotonic()
        assert api.nack(consumer_job, [msg_id])["bad_ids"] == []
        [again] = api.poll_until(consumer_job, 1, path="messages/retry", retry_queue=queue)
        elapsed_ms = (time.monotonic() - nacked_at) * 1000
        assert elapsed_ms >= backoff_ms, f"retry_{queue} handed out after {elapsed_ms:.0f} ms"
        assert again["id"] == msg_id and again["attempt"] == attempt
        assert again["data"] == {"k": "v"}

    assert api.nack(consumer_job, [msg_id])["bad_ids"] == []
    [dead] = api.poll_until(consumer_job, 1, path="messages/dlq")
    assert dead["reason"] == "max_retry"
    original = json.loads(base64.b64decode(dead["raw_job"]))
    assert original["id"] == msg_id and original["data"] == {"k": "v"}
    assert api.ack(consumer_job, [dead["id"]])["bad_ids"] == []
    assert api.poll_dlq(consumer_job, max_wait_ms=300) == []


def test_retry_queue_holds_back_without_blocking_main(
    api: Api, job_name: str, queue_config: QueueConfigFactory
) -> None:
    """A message waiting out a long backoff in retry_0 holds up neither the main queue nor
    the nack that put it there."""
    api.create_job(job_name, queue_config(job_name), retry_config={"backoffs": [30_000]})
    api.start_job(job_name)
    api.subscribe(job_name)
    [a] = api.publish(job_name, [{"data": "a"}])
    api.poll_until(job_name, 1)
    nacked_at = time.monotonic()
    assert api.nack(job_name, [a])["bad_ids"] == []
    [b] = api.publish(job_name, [{"data": "b"}])
    assert _ids(api.poll_until(job_name, 1, timeout_s=20)) == [b]
    assert api.poll_retry(job_name, 0, max_wait_ms=200) == []  # still not due
    assert time.monotonic() - nacked_at < 30, "too slow to show the queues are independent"


def test_repeat_count_zero_goes_straight_to_dlq(api: Api, consumer_job: str) -> None:
    """repeat_count 0: the first nack dead-letters the message."""
    [msg_id] = api.publish(
        consumer_job, [{"data": 1, "error_policy": {"repeat_count": 0, "repeat_backoff": 0}}]
    )
    api.poll_until(consumer_job, 1)
    api.nack(consumer_job, [msg_id])
    [dead] = api.poll_until(consumer_job, 1, path="messages/dlq")
    assert dead["reason"] == "max_retry"
    assert json.loads(base64.b64decode(dead["raw_job"]))["id"] == msg_id


def test_processing_timeout_sends_message_through_retry_path(
    api: Api, job_name: str, queue_config: QueueConfigFactory
) -> None:
    """An un-acked message comes back via retry_0 after max_processing_time_ms; extend
    keeps another one from timing out."""
    api.create_job(job_name, queue_config(job_name), max_processing_time_ms=800,
                   retry_config={"backoffs": [100]})  # fmt: skip
    api.start_job(job_name)
    api.subscribe(job_name)
    expiring, extended = api.publish(job_name, [{"data": "slow"}, {"data": "extended"}])
    api.poll_until(job_name, 2)
    reply = api.worker("extend", name=job_name, msg_ids=[extended], extend_ms=5000).json()
    assert reply["bad_ids"] == []
    [back] = api.poll_until(job_name, 1, path="messages/retry", retry_queue=0, timeout_s=10)
    assert back["id"] == expiring and back["attempt"] == 2
    assert api.ack(job_name, [expiring])["bad_ids"] == []  # the re-delivery is held again
    assert api.ack(job_name, [extended])["bad_ids"] == []  # still held: extend worked


def test_stopped_job_refuses_polls_but_takes_acks(api: Api, consumer_job: str) -> None:
    """stop → polls answer 503 naming the stopped job, ack still 200; start → polls again."""
    [held] = api.publish(consumer_job, [{"data": 1}])
    api.poll_until(consumer_job, 1)
    api.stop_job(consumer_job)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = api.worker("messages", name=consumer_job, max_wait_ms=0)
        assert response.status_code == 503 or response.json()["msgs"] == []
        if response.status_code == 503:
            break
        time.sleep(0.1)
    assert response.status_code == 503, response.text
    assert "stopped" in response.json()["error"]
    [waiting] = api.publish(consumer_job, [{"data": 2}])  # publishing still works
    assert api.ack(consumer_job, [held])["bad_ids"] == []
    api.start_job(consumer_job)
    deadline = time.monotonic() + 10
    got: list[dict[str, Any]] = []
    while not got and time.monotonic() < deadline:
        response = api.worker("messages", name=consumer_job, max_wait_ms=300)
        if response.status_code == 200:
            got = response.json()["msgs"]
    assert _ids(got) == [waiting]


def test_update_is_served_as_new_version_without_loss(
    api: Api, job_name: str, queue_config: QueueConfigFactory
) -> None:
    """update → the dispatcher switches to the new version; held messages stay ackable and
    nothing published around the switch is lost."""
    # Held messages must outlive a slow switch (a new Kinesis stream takes seconds on moto).
    api.create_job(job_name, queue_config(job_name), max_processing_time_ms=120_000)
    api.start_job(job_name)
    api.subscribe(job_name)
    consumer_job = job_name
    first = api.publish(consumer_job, [{"data": i} for i in range(5)])
    held = api.poll_until(consumer_job, 5)
    job = api.update_job(consumer_job, retry_config={"backoffs": [50, 100, 150]})
    assert job["version"] == 2
    second = api.publish(consumer_job, [{"data": i} for i in range(5, 10)])
    # the new version has three retry queues: retry_2 exists only once it is served
    deadline = time.monotonic() + 60  # a new Kinesis stream takes seconds on moto
    while time.monotonic() < deadline:
        if api.worker("messages/retry", name=consumer_job, retry_queue=2).status_code == 200:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("dispatcher did not pick up version 2")
    assert api.ack(consumer_job, _ids(held))["bad_ids"] == []  # held by the old version
    # the new version reads once the old one closed: on Kafka its group then rebalances
    rest = api.poll_until(consumer_job, 5, timeout_s=60)
    assert sorted(_ids(rest)) == sorted(second)
    api.ack(consumer_job, _ids(rest))
    assert sorted(_ids(held)) == sorted(first)


def test_unknown_job_and_bad_input_errors(api: Api, consumer_job: str) -> None:
    """Unknown job 404; malformed JSON and wrong types 400 naming the field; huge body 413."""
    response = api.worker("subscribe", name="no-such-job")
    assert response.status_code == 404 and "no-such-job" in response.json()["error"]
    response = api.worker("messages", name="not-subscribed")
    assert response.status_code == 404
    response = api.dispatcher.post("/api/v1/worker/ack", content=b'{"name": "x", "msg_ids": [1,')
    assert response.status_code == 400 and "malformed JSON" in response.json()["error"]
    response = api.worker("ack", name=consumer_job, msg_ids=["one"])
    assert response.status_code == 400 and response.json()["field"] == "msg_ids[0]"
    response = api.worker("messages/retry", name=consumer_job, retry_queue=7)
    assert response.status_code == 400 and response.json()["field"] == "retry_queue"
    big = b'{"name": "x", "msgs": [{"data": "' + b"x" * (11 * 1024 * 1024) + b'"}]}'
    response = api.dispatcher.post("/api/v1/worker/publish", content=big)
    assert response.status_code == 413


def test_undecodable_payload_is_dead_lettered(
    api: Api, consumer_job: str, stack: Any, broker_kind: str
) -> None:
    """Bytes that are not a message go to the DLQ with reason unable_to_decode, unchanged."""
    from jobqueue.contract import BrokerContext, Record
    from jobqueue.plugins import load_brokers

    registry = load_brokers()
    broker_cls = registry.get(broker_kind)
    config_raw = api._ok(api.controller.post(
        "/api/v1/dispatcher/register/", json={"dispatcher_id": "test", "job_name": consumer_job}
    ))["job"]["queue_config"]["config"]  # fmt: skip
    broker = broker_cls(
        broker_cls.parse_config(config_raw), BrokerContext(data_dir=str(stack.data_dir))
    )
    producer = broker.producer(consumer_job)
    try:
        producer.publish([Record(b"\xffnot json")])
    finally:
        producer.close()
        broker.close()
    assert api.poll(consumer_job, max_wait_ms=1000) == []  # workers see nothing of it
    [dead] = api.poll_until(consumer_job, 1, path="messages/dlq")
    assert dead["reason"] == "unable_to_decode"
    assert base64.b64decode(dead["raw_job"]) == b"\xffnot json"


def test_back_pressure_answers_503_until_acks(
    api: Api, job_name: str, queue_config: QueueConfigFactory
) -> None:
    """Above the in-flight limit polls answer 503; acking makes room again."""
    # the module's stack runs with --max-in-flight 1000; fill it through one batch
    api.create_job(job_name, queue_config(job_name))
    api.start_job(job_name)
    api.subscribe(job_name)
    ids = api.publish(job_name, [{"data": i} for i in range(1000)])
    held: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while len(held) < 1000 and time.monotonic() < deadline:
        held += api.poll(job_name, max_wait_ms=500, max_messages=1000)
    assert len(held) == 1000
    api.publish(job_name, [{"data": "one more"}])
    response = api.worker("messages", name=job_name, max_wait_ms=0)
    assert response.status_code == 503 and "un-acked" in response.json()["error"]
    assert api.ack(job_name, ids[:10])["bad_ids"] == []
    assert len(api.poll_until(job_name, 1)) == 1


def test_redrive_moves_dlq_messages_back_to_main(api: Api, consumer_job: str) -> None:
    """DLQ redrive puts messages back on the main queue with attempt reset."""
    [msg_id] = api.publish(
        consumer_job, [{"data": "again", "error_policy": {"repeat_count": 0, "repeat_backoff": 0}}]
    )
    api.poll_until(consumer_job, 1)
    api.nack(consumer_job, [msg_id])
    deadline = time.monotonic() + 10
    moved = 0
    while not moved and time.monotonic() < deadline:
        reply = api.worker(
            "messages/dlq/redrive", name=consumer_job, max_messages=10, target="main"
        )
        assert reply.status_code == 200, reply.text
        moved = reply.json()["moved"]
    assert moved == 1
    [back] = api.poll_until(consumer_job, 1)
    assert back["id"] == msg_id and back["attempt"] == 1 and back["data"] == "again"


def test_metrics_count_the_lifecycle(api: Api, consumer_job: str) -> None:
    """/metrics reports delivered, acked, nacked, retried and in-flight per job."""
    ids = api.publish(consumer_job, [{"data": 1}, {"data": 2}])
    api.poll_until(consumer_job, 2)
    api.ack(consumer_job, ids[:1])
    api.nack(consumer_job, ids[1:])
    text = api.dispatcher.get("/metrics").text
    for line in (
        f'jobqueue_delivered_total{{job="{consumer_job}",queue="main"}} 2.0',
        f'jobqueue_acked_total{{job="{consumer_job}"}} 1.0',
        f'jobqueue_nacked_total{{job="{consumer_job}"}} 1.0',
        f'jobqueue_in_flight{{job="{consumer_job}"}} 0.0',
    ):
        assert line in text, line


def test_extend_past_the_broker_lease_hands_nothing_out_twice(
    api: Api, job_name: str, queue_config: QueueConfigFactory
) -> None:
    """A message extended beyond the broker's lease (processing time + lease margin) is not
    handed out again while held, and one ack settles it for good."""
    api.create_job(job_name, queue_config(job_name), max_processing_time_ms=1000,
                   retry_config={"backoffs": [100]})  # fmt: skip
    api.start_job(job_name)
    api.subscribe(job_name)
    [msg_id] = api.publish(job_name, [{"data": "long"}])
    api.poll_until(job_name, 1)
    reply = api.worker("extend", name=job_name, msg_ids=[msg_id], extend_ms=8000).json()
    assert reply["bad_ids"] == []
    deadline = time.monotonic() + 4.0  # the broker lease (1 s + 1 s margin) runs out meanwhile
    while time.monotonic() < deadline:
        assert api.poll(job_name, max_wait_ms=500) == []
        assert api.poll_retry(job_name, 0, max_wait_ms=0) == []
    assert api.ack(job_name, [msg_id])["bad_ids"] == []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert api.poll(job_name, max_wait_ms=500) == []
