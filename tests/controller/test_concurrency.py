"""Racing writers over real connections: the database decides, nobody gets a 500."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import Api


def _race(
    count: int, action: Callable[[httpx.Client, int], httpx.Response], url: str
) -> list[httpx.Response]:
    """Run ``action`` from ``count`` threads at once, each with its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.get("/health")  # connect before the barrier so the requests really overlap
            barrier.wait()
            try:
                results[index] = action(client, index)
            except Exception as exc:  # reported below with the others
                results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if not isinstance(r, httpx.Response)]
    assert not errors, errors
    return results


def test_20_concurrent_creates_of_one_name(api: Api) -> None:
    """Exactly one of 20 simultaneous creates of a name succeeds; the 19 others get 409."""
    body = api.job_body("contested")

    def create(client: httpx.Client, index: int) -> httpx.Response:
        return client.post("/api/v1/job/", json={**body, "description": f"writer {index}"})

    responses = _race(20, create, api.url)
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 409: 19}, [(r.status_code, r.text) for r in responses]
    assert all(r.json()["code"] == "job_exists" for r in responses if r.status_code == 409)
    winner = next(r.json()["job"] for r in responses if r.status_code == 200)
    versions = api.ok("GET", "/api/v1/job/contested/versions/")["jobs"]
    assert versions == [winner]


def test_concurrent_updates_each_write_their_own_version(api: Api) -> None:
    """10 simultaneous updates never share a version number and leave one live version."""
    api.create("busy")

    def update(client: httpx.Client, index: int) -> httpx.Response:
        return client.post("/api/v1/job/busy/", json={"description": f"writer {index}"})

    responses = _race(10, update, api.url)
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 409}, [(r.status_code, r.text) for r in responses]
    written = sorted(r.json()["job"]["version"] for r in responses if r.status_code == 200)
    assert len(written) == len(set(written)) == statuses[200] >= 1
    versions = api.ok("GET", "/api/v1/job/busy/versions/")["jobs"]
    assert [v["version"] for v in versions] == list(range(1, len(written) + 2))
    live = [v for v in versions if v["state"] != "deprecated"]
    assert [v["version"] for v in live] == [len(written) + 1]
    descriptions = {v["description"] for v in versions[1:]}
    assert descriptions == {f"writer {i}" for i in range(10) if responses[i].status_code == 200}


def test_concurrent_transitions_and_updates_keep_one_live_version(api: Api) -> None:
    """start, stop and update racing on one job: no 500, and exactly one live version."""
    api.create("flappy")

    def act(client: httpx.Client, index: int) -> httpx.Response:
        if index % 3 == 0:
            return client.put("/api/v1/job/flappy/start/")
        if index % 3 == 1:
            return client.put("/api/v1/job/flappy/stop/")
        return client.post("/api/v1/job/flappy/", json={"description": f"w{index}"})

    responses = _race(12, act, api.url)
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    versions = api.ok("GET", "/api/v1/job/flappy/versions/")["jobs"]
    live = [v for v in versions if v["state"] != "deprecated"]
    assert len(live) == 1
    assert live[0]["version"] == versions[-1]["version"]
    assert live[0]["state"] in {"stopped", "active"}


def test_concurrent_registrations_of_one_dispatcher(api: Api) -> None:
    """The same dispatcher registering one job from 10 threads leaves one registration."""
    api.create("shared")

    def register(client: httpx.Client, index: int) -> httpx.Response:
        body = {"dispatcher_id": "d-1", "job_name": "shared"}
        return client.post("/api/v1/dispatcher/register/", json=body)

    responses = _race(10, register, api.url)
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    registrations = api.ok("GET", "/api/v1/dispatcher/")["registrations"]
    assert [(r["dispatcher_id"], r["job_name"]) for r in registrations] == [("d-1", "shared")]
