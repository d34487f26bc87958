"""Bearer auth on every API route; /health, /ready, /metrics and /openapi.json."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.routing import Route

from jobqueue.controller.app import create_app
from jobqueue.controller.migrations import upgrade
from jobqueue.plugins import BrokerRegistry

if TYPE_CHECKING:
    from conftest import Api, PostgresDatabases

TOKEN = "t0ken-for-tests"

API_ROUTES = [
    ("POST", "/api/v1/job/"),
    ("GET", "/api/v1/job/"),
    ("GET", "/api/v1/job/x/"),
    ("POST", "/api/v1/job/x/"),
    ("DELETE", "/api/v1/job/x/"),
    ("PUT", "/api/v1/job/x/start/"),
    ("PUT", "/api/v1/job/x/stop/"),
    ("GET", "/api/v1/job/x/versions/"),
    ("POST", "/api/v1/dispatcher/register/"),
    ("POST", "/api/v1/dispatcher/deregister/"),
    ("POST", "/api/v1/dispatcher/gossip/"),
    ("GET", "/api/v1/dispatcher/"),
    ("GET", "/api/v1/job"),
]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_every_api_route_needs_the_token(
    make_api: Callable[..., Api], method: str, path: str
) -> None:
    """Without a token, or with a wrong one, every API route is a 401 with a clear error."""
    api = make_api(token=TOKEN)
    with httpx.Client(base_url=api.url) as anonymous:
        response = anonymous.request(method, path)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert "missing bearer token" in response.json()["error"]
        wrong = anonymous.request(method, path, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert "invalid bearer token" in wrong.json()["error"]
        assert TOKEN not in wrong.text


def test_the_right_token_is_let_in(make_api: Callable[..., Api]) -> None:
    """With the token, admin and dispatcher routes work as usual."""
    api = make_api(token=TOKEN)
    api.create("guarded", queue_config=api.sasl_config())
    assert api.ok("GET", "/api/v1/job/guarded/")["job"]["name"] == "guarded"
    body = {"dispatcher_id": "d", "job_name": "guarded"}
    job = api.ok("POST", "/api/v1/dispatcher/register/", body)
    assert job["job"]["queue_config"]["config"]["sasl_password"] == api.SECRET


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/openapi.json"])
def test_ops_routes_are_open_with_auth_on(make_api: Callable[..., Api], path: str) -> None:
    """Probes, metrics and the API document need no token."""
    api = make_api(token=TOKEN)
    assert httpx.get(api.url + path).status_code == 200


def test_health_and_ready(api: Api) -> None:
    """/health is the process, /ready also checks the database."""
    assert api.ok("GET", "/health") == {"status": "ok"}
    assert api.ok("GET", "/ready") == {"status": "ok"}


def test_metrics_count_requests_and_jobs_by_state(api: Api) -> None:
    """/metrics has request counts by route template and job versions by state."""
    api.create("m1")
    api.create("m2")
    api.ok("PUT", "/api/v1/job/m2/start/")
    api.ok("POST", "/api/v1/job/m1/", {"description": "v2"})
    api.error("GET", "/api/v1/job/absent/", 404)
    api.ok("POST", "/api/v1/dispatcher/register/", {"dispatcher_id": "d", "job_name": "m1"})
    response = api.request("GET", "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    def value(sample: str) -> float:
        match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
        assert match, f"{sample} not in /metrics"
        return float(match.group(1))

    assert value('jobqueue_controller_job_versions{state="stopped"}') == 1
    assert value('jobqueue_controller_job_versions{state="active"}') == 1
    assert value('jobqueue_controller_job_versions{state="deprecated"}') == 1
    assert value('jobqueue_controller_job_versions{state="archived"}') == 0
    assert value("jobqueue_controller_dispatcher_registrations") == 1
    assert value("jobqueue_controller_database_up") == 1
    create = 'method="POST",route="/api/v1/job/",status="200"'
    assert value(f"jobqueue_controller_requests_total{{{create}}}") == 2
    not_found = 'method="GET",route="/api/v1/job/{name}/",status="404"'
    assert value(f"jobqueue_controller_requests_total{{{not_found}}}") == 1
    assert "absent" not in text, "labels use route templates, never raw paths"
    assert (
        value(
            'jobqueue_controller_request_duration_seconds_count{method="PUT",'
            'route="/api/v1/job/{name}/start/"}'
        )
        == 1
    )


def test_openapi_covers_every_route(api: Api, make_api: Callable[..., Api]) -> None:
    """/openapi.json is a valid OpenAPI 3.1 document of every route, with its bodies."""
    document = api.ok("GET", "/openapi.json")
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    expected = {
        ("POST", "/api/v1/job/"),
        ("GET", "/api/v1/job/"),
        ("GET", "/api/v1/job/{name}/"),
        ("POST", "/api/v1/job/{name}/"),
        ("DELETE", "/api/v1/job/{name}/"),
        ("PUT", "/api/v1/job/{name}/start/"),
        ("PUT", "/api/v1/job/{name}/stop/"),
        ("GET", "/api/v1/job/{name}/versions/"),
        ("POST", "/api/v1/dispatcher/register/"),
        ("POST", "/api/v1/dispatcher/deregister/"),
        ("POST", "/api/v1/dispatcher/gossip/"),
        ("GET", "/api/v1/dispatcher/"),
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    }
    assert documented == expected
    validate(document, cls=OpenAPIV31SpecValidator)
    create = document["paths"]["/api/v1/job/"]["post"]
    assert {"400", "409", "413"} <= set(create["responses"])
    schemas = document["components"]["schemas"]
    assert {"JobCreate", "JobReply", "JobUpdate", "RegisterRequest", "GossipReply"} <= set(schemas)


def test_openapi_matches_the_app_routes(db_url: str, registry: BrokerRegistry) -> None:
    """Every route the app serves (minus slash-less aliases) is in the document."""
    app = create_app(db_url, registry=registry)
    document = app.state.controller.openapi
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    aliases = {(m, p) for m, p in served if (m, p + "/") in documented}
    assert served - aliases == documented
    app.state.controller.db.dispose()


def test_ready_is_503_when_the_database_is_gone(
    postgres_databases: PostgresDatabases,
    registry: BrokerRegistry,
    serve_api: Callable[..., Api],
) -> None:
    """PostgreSQL dropped under a running controller: /ready and the API answer 503."""
    url = postgres_databases.create()
    upgrade(url)
    api = serve_api(create_app(url, registry=registry))
    api.create("before")
    postgres_databases.drop(url)
    reply = api.error("GET", "/ready", 503)
    assert reply["code"] == "database_unavailable"
    assert url.rpartition("/")[2] in reply["error"]
    assert api.error("GET", "/api/v1/job/before/", 503)["code"] == "database_unavailable"
    metrics = api.request("GET", "/metrics").text
    assert "jobqueue_controller_database_up 0.0" in metrics
