"""``jobqueue plugins``: the brokers an environment can use, with distribution and version.

Run in-process through click's CliRunner and as the installed console script, with throwaway
distributions (a ``.dist-info`` next to its module, as an install leaves them) on the path.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jobqueue.cli import main
from jobqueue.plugins import DISABLE_ENV

SHIPPED = {
    "sqlite": "jobqueue",
    "kafka": "jobqueue-kafka",
    "redis": "jobqueue-redis",
    "kinesis": "jobqueue-kinesis",
}

BROKER_MODULE = '''\
"""A throwaway third-party broker."""

from jobqueue.contract import Broker, BrokerConfig, Capabilities
from jobqueue.hookspecs import hookimpl


class Config(BrokerConfig, kw_only=True):
    topic: str


class ThirdParty(Broker):
    name = "{broker}"
    config_type = Config
    capabilities = Capabilities(max_payload_bytes=1)

    def producer(self, topic):
        raise NotImplementedError

    def consumer(self, topic, group, *, lease_ms=30_000):
        raise NotImplementedError

    def ensure_topics(self, topics):
        return None


@hookimpl
def jobqueue_register_brokers(register):
    register(ThirdParty)
'''


def add_distribution(site: Path, dist: str, version: str, entry_point: str, source: str) -> str:
    """A module plus a ``.dist-info`` declaring it in the ``jobqueue`` group; the module name."""
    module = f"jq_cli_{uuid.uuid4().hex[:10]}"
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[jobqueue]\n{entry_point} = {module}\n")
    return module


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with one good third-party broker and one broken plugin, on sys.path."""
    path = tmp_path / "site"
    path.mkdir()
    add_distribution(path, "acme-broker", "3.1.4", "acme", BROKER_MODULE.format(broker="acme"))
    add_distribution(path, "broken-broker", "0.0.1", "broken", "import no_such_client_lib\n")
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return path


@pytest.fixture(autouse=True)
def forget_site_modules() -> Iterator[None]:
    """Unload the throwaway modules after each test, so no later test sees them."""
    yield
    for name in [n for n in sys.modules if n.startswith("jq_cli_")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def console_script() -> Path:
    script = Path(sys.executable).parent / "jobqueue"
    assert script.exists(), f"console script {script} missing: pip install -e . first"
    return script


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    full_env.update(env or {})
    return subprocess.run(
        [str(console_script()), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        check=False,
    )


def by_broker(listing: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {row["broker"]: row for row in listing["brokers"]}


def test_json_lists_third_party_broker_with_distribution_and_version(site: Path) -> None:
    """``plugins --json`` lists an installed third-party broker with its distribution and
    version, and the broken plugin as a failure naming its distribution."""
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert by_broker(listing)["acme"] == {
        "broker": "acme",
        "distribution": "acme-broker",
        "version": "3.1.4",
    }
    broken = [f for f in listing["failures"] if f["distribution"] == "broken-broker"]
    assert [f["entry_point"] for f in broken] == ["broken"]
    assert "no_such_client_lib" in broken[0]["error"]


def test_table_lists_brokers_and_warns_about_failures(site: Path) -> None:
    """The table names broker, distribution and version, then warns about broken plugins."""
    result = CliRunner().invoke(main, ["plugins"], terminal_width=200)
    assert result.exit_code == 0, result.output
    acme_line = next(line for line in result.stdout.splitlines() if " acme " in line)
    assert "acme-broker" in acme_line and "3.1.4" in acme_line
    assert "broken-broker" in result.stdout
    assert "failed to load" in result.stdout


def test_json_rows_are_sorted_by_broker_name(site: Path) -> None:
    """Brokers come out sorted by name, so the listing is stable between runs."""
    listing = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).stdout)
    names = [row["broker"] for row in listing["brokers"]]
    assert names == sorted(names)
    assert "acme" in names


def test_console_script_lists_third_party_broker(site: Path) -> None:
    """The installed ``jobqueue`` script discovers a distribution found on PYTHONPATH."""
    done = run_script("plugins", "--json", env={"PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    acme = by_broker(listing)["acme"]
    assert (acme["distribution"], acme["version"]) == ("acme-broker", "3.1.4")
    assert "broken-broker" in {f["distribution"] for f in listing["failures"]}


def test_console_script_honours_disable_env(site: Path) -> None:
    """``JOBQUEUE_DISABLE_PLUGINS`` hides the blocked plugins from the listing."""
    done = run_script(
        "plugins", "--json", env={"PYTHONPATH": str(site), DISABLE_ENV: "acme,broken"}
    )
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert "acme" not in by_broker(listing)
    assert "broken-broker" not in {f["distribution"] for f in listing["failures"]}


def test_console_script_lists_all_shipped_brokers() -> None:
    """After the README's install, sqlite, kafka, redis and kinesis are all listed."""
    done = run_script("plugins", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    found = by_broker(listing)
    missing = sorted(set(SHIPPED) - set(found))
    assert not missing, f"not listed: {missing}; failures: {listing['failures']}"
    for broker, dist in SHIPPED.items():
        assert found[broker]["distribution"] == dist
        assert found[broker]["version"] == importlib.metadata.version(dist)
    assert listing["failures"] == []
