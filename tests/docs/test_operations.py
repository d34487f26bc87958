"""docs/operations.md and deploy/prometheus/alerts.yaml name only metrics that exist, and all.

Metric names come from the services themselves: the dispatcher's registry and the
controller's ``/metrics`` over a fresh database.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobqueue.controller.app import create_app
from jobqueue.controller.migrations import upgrade
from jobqueue.dispatcher.metrics import DispatcherMetrics
from tests.docs.repo import REPO, load_yaml_documents

OPERATIONS = REPO / "docs" / "operations.md"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
            "_created"), "gauge": ("",)}  # fmt: skip
_NAME = re.compile(r"\bjobqueue_[a-z_]+\b")


def _controller_families(tmp_path: Path) -> dict[str, str]:
    db_url = f"sqlite:///{tmp_path / 'controller.db'}"
    upgrade(db_url)

    async def scrape() -> str:
        transport = httpx.ASGITransport(app=create_app(db_url))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/health")  # so that the request metrics have a sample
            return (await client.get("/metrics")).text

    text = asyncio.run(scrape())
    return {f.name: f.type for f in text_string_to_metric_families(text)}


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every jobqueue metric family of both services, with its type."""
    found = {f.name: f.type for f in DispatcherMetrics().registry.collect()}
    found.update(_controller_families(tmp_path_factory.mktemp("controller")))
    return {name: kind for name, kind in found.items() if not name.endswith("_created")}


def _series(families: dict[str, str]) -> dict[str, str]:
    """Exposed series name -> family (``jobqueue_acked_total`` -> ``jobqueue_acked``)."""
    return {name + suffix: name for name, kind in families.items() for suffix in SUFFIXES[kind]}


def _documented(text: str, families: dict[str, str]) -> set[str]:
    series = _series(families)
    unknown = sorted({n for n in _NAME.findall(text) if n not in series and n not in families})
    assert unknown == [], f"names no service exposes: {unknown}"
    return {series.get(name, name) for name in _NAME.findall(text)}


def test_operations_documents_every_metric_and_no_other(families: dict[str, str]) -> None:
    """Each metric family of the services is in docs/operations.md; nothing invented."""
    tables = "\n".join(line for line in OPERATIONS.read_text().splitlines() if line.startswith("|"))
    assert _documented(tables, families) >= set(families)
    _documented(OPERATIONS.read_text(), families)


def _rules() -> list[dict[str, Any]]:
    (document,) = load_yaml_documents(ALERTS)
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_use_real_metrics(families: dict[str, str]) -> None:
    """Every alert has a severity and a summary, and its expression names real series."""
    for rule in _rules():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), rule["alert"]
        assert _NAME.findall(expr), f"{rule['alert']} uses no jobqueue metric"
        _documented(expr, families)


def test_every_alert_is_explained_in_operations() -> None:
    """The alert table of docs/operations.md lists exactly the rules of alerts.yaml."""
    documented = set(re.findall(r"^\| `(Jobqueue\w+)`", OPERATIONS.read_text(), re.MULTILINE))
    assert documented == {rule["alert"] for rule in _rules()}
