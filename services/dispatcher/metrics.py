"""Prometheus metrics of one dispatcher, per job (own registry, so apps can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class DispatcherMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.delivered = Counter(
            "jobqueue_delivered", "Messages handed to workers", ["job", "queue"], registry=r
        )
        self.acked = Counter("jobqueue_acked", "Messages acked", ["job"], registry=r)
        self.nacked = Counter("jobqueue_nacked", "Messages nacked by workers", ["job"], registry=r)
        self.retried = Counter(
            "jobqueue_retried", "Messages written to a retry queue", ["job", "queue"], registry=r
        )
        self.dead_lettered = Counter(
            "jobqueue_dead_lettered", "Messages written to the DLQ", ["job", "reason"], registry=r
        )
        self.timed_out = Counter(
            "jobqueue_timed_out", "Messages whose processing time expired", ["job"], registry=r
        )
        self.published = Counter(
            "jobqueue_published", "Messages published through the API", ["job"], registry=r
        )
        self.in_flight = Gauge(
            "jobqueue_in_flight", "Messages held by workers", ["job"], registry=r
        )
        self.poll_latency = Histogram(
            "jobqueue_poll_seconds",
            "Time a poll request took",
            ["job", "queue"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60),
            registry=r,
        )
