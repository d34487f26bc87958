"""Prometheus metrics of the controller: HTTP traffic, and job and registration counts.

Each app owns its registry (several apps may live in one process, e.g. in tests or in
``jobqueue dev``). Job counts are read from the database at scrape time, so every controller
replica reports the same truth; a failing database shows as ``..._database_up 0``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobqueue.errors import JobQueueError

from .records import JOB_STATES
from .registrations import RegistrationStore
from .store import JobStore

PREFIX = "jobqueue_controller"


class _StoreCollector(Collector):
    def __init__(self, jobs: JobStore, registrations: RegistrationStore) -> None:
        self.jobs = jobs
        self.registrations = registrations

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 if the job store answered the scrape")
        try:
            counts = self.jobs.counts_by_state()
            live = len(self.registrations.live())
        except JobQueueError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_state = GaugeMetricFamily(
            f"{PREFIX}_job_versions", "Job versions by state", labels=["state"]
        )
        for state in JOB_STATES:
            by_state.add_metric([state], counts.get(state, 0))
        yield by_state
        registrations = GaugeMetricFamily(
            f"{PREFIX}_dispatcher_registrations", "Live dispatcher registrations"
        )
        registrations.add_metric([], live)
        yield registrations


class ControllerMetrics:
    def __init__(self, jobs: JobStore, registrations: RegistrationStore) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "HTTP request latency by method and route",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(jobs, registrations))

    def render(self) -> bytes:
        """The exposition text; reads the database, so call it off the event loop."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template, never by raw path."""

    def __init__(self, app: ASGIApp, metrics: ControllerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            label = getattr(route, "name", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)
