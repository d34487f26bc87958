"""The job routes over a live controller, on SQLite and on PostgreSQL: lifecycle and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Api

JOBS = "/api/v1/job/"


def test_create_returns_version_1_stopped(api: Api) -> None:
    """A new job is version 1, stopped, with the original service's field names."""
    job = api.create("orders", error_policy={"repeat_count": 3, "repeat_backoff": -1})
    assert job["name"] == "orders"
    assert job["version"] == 1
    assert job["state"] == "stopped"
    assert job["type"] == "consumer"
    assert job["description"] == "orders test job"
    assert job["max_processing_time"] == 30_000
    assert job["retry_config"] == {"backoffs": [100, 1000]}
    assert job["queue_config"] == {
        "type": "sqlite",
        "config": {"topic": "orders-topic", "path": None},
    }
    assert job["error_policy"] == {"repeat_count": 3, "repeat_backoff": -1}
    assert job["emit_acks"] is False
    assert isinstance(job["id"], int) and job["id"] > 0
    assert job["created_at"].endswith("Z")


def test_get_returns_the_job(api: Api) -> None:
    """GET /api/v1/job/{name}/ returns what create returned."""
    created = api.create("billing")
    assert api.ok("GET", "/api/v1/job/billing/") == {"job": created}


def test_routes_accept_paths_without_trailing_slash(api: Api) -> None:
    """Each route also answers without its trailing slash (no redirect)."""
    api.ok("POST", "/api/v1/job", api.job_body("noslash"))
    assert api.ok("GET", "/api/v1/job/noslash")["job"]["name"] == "noslash"
    assert api.ok("PUT", "/api/v1/job/noslash/start")["job"]["state"] == "active"
    assert api.ok("PUT", "/api/v1/job/noslash/stop")["job"]["state"] == "stopped"
    assert len(api.ok("GET", "/api/v1/job/noslash/versions")["jobs"]) == 1
    assert api.ok("POST", "/api/v1/job/noslash", {"description": "x"})["job"]["version"] == 2
    assert [job["name"] for job in api.ok("GET", "/api/v1/job")["jobs"]] == ["noslash"]
    assert api.ok("DELETE", "/api/v1/job/noslash")["job"]["state"] == "archived"


def test_get_unknown_job_is_404(api: Api) -> None:
    """An unknown name is a 404 naming the job."""
    reply = api.error("GET", "/api/v1/job/nope/", 404)
    assert "nope" in reply["error"]
    assert reply["code"] == "job_not_found"


def test_every_job_route_404s_for_an_unknown_name(api: Api) -> None:
    """update, start, stop, archive and versions of an unknown job are 404."""
    api.error("POST", "/api/v1/job/ghost/", 404, {"description": "x"})
    api.error("PUT", "/api/v1/job/ghost/start/", 404)
    api.error("PUT", "/api/v1/job/ghost/stop/", 404)
    api.error("DELETE", "/api/v1/job/ghost/", 404)
    api.error("GET", "/api/v1/job/ghost/versions/", 404)


def test_update_writes_next_version_and_deprecates_the_previous(api: Api) -> None:
    """An update writes version n+1 with the new fields; version n becomes deprecated."""
    first = api.create("resize")
    second = api.ok(
        "POST",
        "/api/v1/job/resize/",
        {"description": "bigger", "retry_config": {"backoffs": [5]}, "max_processing_time_ms": 9},
    )["job"]
    assert second["version"] == 2
    assert second["id"] != first["id"]
    assert second["description"] == "bigger"
    assert second["retry_config"] == {"backoffs": [5]}
    assert second["max_processing_time"] == 9
    assert second["queue_config"] == first["queue_config"]
    assert second["state"] == "stopped"
    versions = api.ok("GET", "/api/v1/job/resize/versions/")["jobs"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "deprecated"), (2, "stopped")]
    assert versions[0]["description"] == "resize test job"
    assert api.ok("GET", "/api/v1/job/resize/")["job"] == second


def test_update_keeps_an_active_job_active(api: Api) -> None:
    """The state carries over to the new version: an active job stays active."""
    api.create("hot")
    api.ok("PUT", "/api/v1/job/hot/start/")
    updated = api.ok("POST", "/api/v1/job/hot/", {"emit_acks": True})["job"]
    assert (updated["version"], updated["state"], updated["emit_acks"]) == (2, "active", True)


def test_update_can_change_the_broker(api: Api) -> None:
    """A new queue_config is validated by its own broker and replaces the old one."""
    api.create("mover")
    updated = api.ok("POST", "/api/v1/job/mover/", {"queue_config": api.sasl_config("t2")})
    assert updated["job"]["queue_config"]["type"] == "sasltest"
    assert updated["job"]["queue_config"]["config"]["topic"] == "t2"


def test_start_and_stop_are_idempotent(api: Api) -> None:
    """start: stopped -> active, again is a 200 no-op; stop likewise."""
    api.create("toggle")
    for _ in range(2):
        assert api.ok("PUT", "/api/v1/job/toggle/start/")["job"]["state"] == "active"
    for _ in range(2):
        assert api.ok("PUT", "/api/v1/job/toggle/stop/")["job"]["state"] == "stopped"
    versions = api.ok("GET", "/api/v1/job/toggle/versions/")["jobs"]
    assert len(versions) == 1, "start and stop change the state, they write no version"


def test_archive_then_everything_but_get_conflicts(api: Api) -> None:
    """An archived job is still readable; start/stop/update/archive of it are 409."""
    api.create("old")
    api.ok("PUT", "/api/v1/job/old/start/")
    assert api.ok("DELETE", "/api/v1/job/old/")["job"]["state"] == "archived"
    assert api.ok("GET", "/api/v1/job/old/")["job"]["state"] == "archived"
    for method, path, body in [
        ("PUT", "/api/v1/job/old/start/", None),
        ("PUT", "/api/v1/job/old/stop/", None),
        ("POST", "/api/v1/job/old/", {"description": "again"}),
        ("DELETE", "/api/v1/job/old/", None),
    ]:
        reply = api.error(method, path, 409, body)
        assert reply["code"] == "invalid_transition"
        assert "archived" in reply["error"]


def test_create_of_an_existing_name_is_409(api: Api) -> None:
    """A duplicate create is a 409 job_exists, and leaves the first job untouched."""
    first = api.create("dup")
    reply = api.error("POST", JOBS, 409, api.job_body("dup", description="second"))
    assert reply["code"] == "job_exists"
    assert "dup" in reply["error"]
    assert api.ok("GET", "/api/v1/job/dup/")["job"] == first


def test_create_of_an_archived_name_is_409_saying_so(api: Api) -> None:
    """Archived names are not reused, and the 409 says the job is archived."""
    api.create("gone")
    api.ok("DELETE", "/api/v1/job/gone/")
    reply = api.error("POST", JOBS, 409, api.job_body("gone"))
    assert reply["code"] == "job_exists"
    assert "archived" in reply["error"]


def test_producer_jobs_may_omit_retry_config(api: Api) -> None:
    """Only consumer jobs need a retry config."""
    job = api.create("emitter", type="producer", retry_config=None)
    assert (job["type"], job["retry_config"]) == ("producer", None)


def test_list_returns_live_jobs_by_default(api: Api) -> None:
    """The list holds the latest version of each non-archived job, by name."""
    api.create("b-job")
    api.create("a-job")
    api.create("c-job")
    api.ok("POST", "/api/v1/job/b-job/", {"description": "v2"})
    api.ok("PUT", "/api/v1/job/c-job/start/")
    api.create("z-archived")
    api.ok("DELETE", "/api/v1/job/z-archived/")
    jobs = api.ok("GET", JOBS)["jobs"]
    assert [(j["name"], j["version"], j["state"]) for j in jobs] == [
        ("a-job", 1, "stopped"),
        ("b-job", 2, "stopped"),
        ("c-job", 1, "active"),
    ]


def test_list_filters_by_state(api: Api) -> None:
    """?state= selects every job version in that state."""
    api.create("one")
    api.create("two")
    api.ok("PUT", "/api/v1/job/two/start/")
    api.ok("POST", "/api/v1/job/one/", {"description": "v2"})
    api.create("three")
    api.ok("DELETE", "/api/v1/job/three/")

    def names(state: str) -> list[tuple[str, int]]:
        jobs = api.ok("GET", f"{JOBS}?state={state}")["jobs"]
        assert all(job["state"] == state for job in jobs)
        return [(job["name"], job["version"]) for job in jobs]

    assert names("stopped") == [("one", 2)]
    assert names("active") == [("two", 1)]
    assert names("deprecated") == [("one", 1)]
    assert names("archived") == [("three", 1)]


def test_list_of_an_empty_registry(api: Api) -> None:
    """No jobs: an empty list, not an error."""
    assert api.ok("GET", JOBS) == {"jobs": []}


def test_a_restarted_controller_sees_the_same_jobs(api: Api, make_api: object) -> None:
    """Jobs live in the database: a second controller on it serves the same registry."""
    created = api.create("durable")
    assert callable(make_api)
    other = make_api()
    assert other.ok("GET", "/api/v1/job/durable/")["job"] == created
