"""The dispatcher side: register, deregister, gossip heartbeats, expiry, and the ops list."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from conftest import Api

REGISTER = "/api/v1/dispatcher/register/"
DEREGISTER = "/api/v1/dispatcher/deregister/"
GOSSIP = "/api/v1/dispatcher/gossip/"
LIST = "/api/v1/dispatcher/"


def _pairs(api: Api) -> list[tuple[str, str]]:
    return [(r["dispatcher_id"], r["job_name"]) for r in api.ok("GET", LIST)["registrations"]]


def test_register_returns_the_live_job(api: Api) -> None:
    """register answers {job} with the latest version and records the registration."""
    api.create("work")
    updated = api.ok("POST", "/api/v1/job/work/", {"description": "v2"})["job"]
    job = api.ok("POST", REGISTER, {"dispatcher_id": "pod-a", "job_name": "work"})["job"]
    assert job == updated
    assert _pairs(api) == [("pod-a", "work")]
    registration = api.ok("GET", LIST)["registrations"][0]
    assert registration["expires_at_ms"] == registration["last_seen_ms"] + 60_000
    assert registration["registered_at_ms"] <= registration["last_seen_ms"]


def test_register_of_an_unknown_job_is_404(api: Api) -> None:
    """A dispatcher cannot register for a job that does not exist."""
    reply = api.error("POST", REGISTER, 404, {"dispatcher_id": "pod-a", "job_name": "nope"})
    assert reply["code"] == "job_not_found"
    assert _pairs(api) == []


def test_register_of_an_archived_job_is_404_saying_archived(api: Api) -> None:
    """An archived job is gone for dispatchers: 404 whose text says it is archived."""
    api.create("retired")
    api.ok("DELETE", "/api/v1/job/retired/")
    reply = api.error("POST", REGISTER, 404, {"dispatcher_id": "pod-a", "job_name": "retired"})
    assert reply["code"] == "job_not_found"
    assert "archived" in reply["error"]


def test_gossip_returns_latest_versions_of_registered_jobs(api: Api) -> None:
    """gossip answers the live version of every job the dispatcher registered, and no other."""
    for name in ("alpha", "beta", "other"):
        api.create(name)
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-a", "job_name": "alpha"})
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-a", "job_name": "beta"})
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-b", "job_name": "other"})
    api.ok("PUT", "/api/v1/job/alpha/start/")
    api.ok("POST", "/api/v1/job/beta/", {"max_processing_time_ms": 5})
    api.ok("DELETE", "/api/v1/job/beta/")
    jobs = api.ok("POST", GOSSIP, {"dispatcher_id": "pod-a"})["jobs"]
    assert [(j["name"], j["version"], j["state"]) for j in jobs] == [
        ("alpha", 1, "active"),
        ("beta", 2, "archived"),
    ]


def test_gossip_of_an_unknown_dispatcher_is_empty(api: Api) -> None:
    """A dispatcher with no registrations gets an empty list."""
    assert api.ok("POST", GOSSIP, {"dispatcher_id": "stranger"}) == {"jobs": []}


def test_deregister_forgets_the_registration(api: Api) -> None:
    """deregister {dispatcher_id, job_id} answers {} and drops only that registration."""
    job = api.create("work")
    api.create("keep")
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-a", "job_name": "work"})
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-a", "job_name": "keep"})
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-b", "job_name": "work"})
    assert api.ok("POST", DEREGISTER, {"dispatcher_id": "pod-a", "job_id": job["id"]}) == {}
    assert _pairs(api) == [("pod-a", "keep"), ("pod-b", "work")]
    assert [j["name"] for j in api.ok("POST", GOSSIP, {"dispatcher_id": "pod-a"})["jobs"]] == [
        "keep"
    ]
    # again: idempotent
    assert api.ok("POST", DEREGISTER, {"dispatcher_id": "pod-a", "job_id": job["id"]}) == {}


def test_deregister_accepts_the_id_of_an_older_version(api: Api) -> None:
    """A dispatcher that registered version 1 can deregister with that id after an update."""
    first = api.create("work")
    api.ok("POST", REGISTER, {"dispatcher_id": "pod-a", "job_name": "work"})
    api.ok("POST", "/api/v1/job/work/", {"description": "v2"})
    api.ok("POST", DEREGISTER, {"dispatcher_id": "pod-a", "job_id": first["id"]})
    assert _pairs(api) == []


def test_deregister_of_an_unknown_job_id_is_404(api: Api) -> None:
    """A job id that never existed is a 404."""
    reply = api.error("POST", DEREGISTER, 404, {"dispatcher_id": "pod-a", "job_id": 999_999})
    assert "999999" in reply["error"]


def test_registrations_expire_without_heartbeat(make_api: Callable[..., Api]) -> None:
    """No gossip for the TTL: the registration is gone from the list and from gossip."""
    api = make_api(dispatcher_ttl_s=0.6)
    api.create("work")
    api.ok("POST", REGISTER, {"dispatcher_id": "quiet", "job_name": "work"})
    api.ok("POST", REGISTER, {"dispatcher_id": "chatty", "job_name": "work"})
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # chatty heartbeats every 0.2 s, quiet never does
        assert len(api.ok("POST", GOSSIP, {"dispatcher_id": "chatty"})["jobs"]) == 1
        time.sleep(0.2)
    assert _pairs(api) == [("chatty", "work")]
    assert api.ok("POST", GOSSIP, {"dispatcher_id": "quiet"}) == {"jobs": []}
    # registering again brings it back
    api.ok("POST", REGISTER, {"dispatcher_id": "quiet", "job_name": "work"})
    assert _pairs(api) == [("chatty", "work"), ("quiet", "work")]


def test_background_sweep_deletes_expired_rows(make_api: Callable[..., Api], db_url: str) -> None:
    """Expired registrations are deleted from the table without anyone asking."""
    api = make_api(dispatcher_ttl_s=0.3)
    api.create("work")
    api.ok("POST", REGISTER, {"dispatcher_id": "gone", "job_name": "work"})
    engine = sa.create_engine(db_url)
    try:
        deadline = time.monotonic() + 10
        rows = -1
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("SELECT count(*) FROM dispatcher_registrations")
                ).scalar_one()
            if rows == 0:
                break
            time.sleep(0.2)
        assert rows == 0, "the sweep did not delete the expired registration within 10 s"
    finally:
        engine.dispose()
