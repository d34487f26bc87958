"""docker-compose.yml: valid for docker-compose, and runs jobqueue the way its CLI expects.

No Docker engine is needed: ``docker-compose config`` parses, interpolates and validates the
file against the compose schema on its own. The test fails when docker-compose is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scripts.doctools.cliargs import check_args, long_options, script_options
from tests.docs.repo import ECHO_CONSUMER, REPO, plugin_names

SERVICES = {
    "kafka", "redis", "postgres", "kinesis",
    "migrate", "controller", "jobs", "dispatcher", "echo-worker",
}  # fmt: skip
ONE_SHOT = {"migrate", "jobs"}
WORKERS = {"echo-worker"}  # no HTTP endpoint to check; restarted when it exits
INTERPOLATED = ("JOBQUEUE_PLUGINS", "POSTGRES_PASSWORD", "JOBQUEUE_CONTROLLER_TOKEN",
                "JOBQUEUE_DISPATCHER_TOKEN")  # fmt: skip


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The file as docker-compose resolves it (``docker-compose config``)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed; on Debian: `apt-get install docker-compose` "
            "(scripts/bootstrap.sh installs it)"
        )
    env = {k: v for k, v in os.environ.items() if k not in INTERPOLATED}
    result = subprocess.run(
        [exe, "--file", "docker-compose.yml", "--project-directory", ".", "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)
    return resolved


def _services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = config["services"]
    return services


def _published(service: dict[str, Any]) -> set[tuple[int, int]]:
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
        else:
            published, _, target = str(port).rpartition(":")
            pairs.add((int(published), int(target)))
    return pairs


def _option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def _jobqueue_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in _services(config).items()
        if s.get("image") == "jobqueue:local" and "entrypoint" not in s
    }


def test_compose_file_is_valid_and_complete(config: dict[str, Any]) -> None:
    """`docker-compose config` accepts the file and it defines the whole stack."""
    assert set(_services(config)) == SERVICES


def test_brokers_and_database_images(config: dict[str, Any]) -> None:
    """Apache Kafka in KRaft mode, Redis, PostgreSQL and the moto Kinesis emulator."""
    services = _services(config)
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(kafka["environment"])
    assert services["redis"]["image"].startswith("redis:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["kinesis"]["image"].startswith("motoserver/moto:")


def test_ports_are_the_original_services(config: dict[str, Any]) -> None:
    """The controller is published on 4000 and the dispatcher on 4001, as in the Go service."""
    services = _services(config)
    assert (4000, 4000) in _published(services["controller"])
    assert (4001, 4001) in _published(services["dispatcher"])


def test_every_long_running_service_has_a_healthcheck(config: dict[str, Any]) -> None:
    """Servers have healthchecks; `service_healthy` only ever waits on one that has."""
    services = _services(config)
    for name, service in services.items():
        if name not in ONE_SHOT | WORKERS:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} -> {dependency}"
            if condition["condition"] == "service_completed_successfully":
                assert dependency in ONE_SHOT, f"{name} waits for {dependency} to exit"


def test_migrations_run_before_the_controller(config: dict[str, Any]) -> None:
    """`jobqueue migrate` runs once PostgreSQL is healthy, the controller once it succeeded."""
    services = _services(config)
    migrate, controller = services["migrate"], services["controller"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert controller["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    db_url = migrate["environment"]["JOBQUEUE_DB"]
    assert controller["environment"]["JOBQUEUE_DB"] == db_url
    assert urlsplit(db_url).hostname == "postgres"


def test_jobqueue_commands_are_valid_cli(config: dict[str, Any]) -> None:
    """Each `jobqueue` command line in the file parses with the real CLI."""
    for name, service in _jobqueue_services(config).items():
        assert check_args(service["command"]) == [], name


def test_healthchecks_probe_the_port_the_service_listens_on(config: dict[str, Any]) -> None:
    """The controller's healthcheck hits /ready and the dispatcher's /health on --port."""
    services = _services(config)
    for name, path in (("controller", "/ready"), ("dispatcher", "/health")):
        port = _option(services[name]["command"], "--port")
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}{path}" in probe, name


def test_services_reach_each_other_by_compose_name(config: dict[str, Any]) -> None:
    """The dispatcher, the job loader and the worker point at services that exist."""
    services = _services(config)
    controller_port = _option(services["controller"]["command"], "--port")
    controller_url = _option(services["dispatcher"]["command"], "--controller")
    assert controller_url == f"http://controller:{controller_port}"
    assert services["jobs"]["environment"]["JOBQUEUE_CONTROLLER"] == controller_url
    dispatcher_port = _option(services["dispatcher"]["command"], "--port")
    worker = services["echo-worker"]["command"]
    assert _option(worker, "--dispatcher") == f"http://dispatcher:{dispatcher_port}"


def test_echo_worker_flags_exist(config: dict[str, Any]) -> None:
    """The echo worker's flags are ones `python examples/echo_consumer.py --help` lists."""
    worker = _services(config)["echo-worker"]
    assert worker["entrypoint"][-1].endswith(ECHO_CONSUMER.rpartition("/")[2])
    assert (REPO / ECHO_CONSUMER).is_file(), f"{ECHO_CONSUMER} is missing"
    known = script_options(ECHO_CONSUMER, cwd=str(REPO))
    assert set(long_options(worker["command"])) <= known


def test_image_build_installs_shipped_plugins(config: dict[str, Any]) -> None:
    """The default PLUGINS build argument names plugins that exist in plugins/."""
    build = _services(config)["controller"]["build"]
    assert set(build["args"]["PLUGINS"].split()) == plugin_names()


def test_job_loader_mounts_the_job_definitions(config: dict[str, Any]) -> None:
    """The `jobs` service runs deploy/compose/create-jobs.sh over deploy/compose/jobs."""
    jobs = _services(config)["jobs"]
    script, directory = jobs["entrypoint"][1:]
    mount = jobs["volumes"][0]
    source = mount["source"] if isinstance(mount, dict) else mount.split(":")[0]
    target = mount["target"] if isinstance(mount, dict) else mount.split(":")[1]
    local = REPO / os.path.relpath(source, REPO)
    assert (local / os.path.relpath(script, target)).is_file()
    assert any((local / os.path.relpath(directory, target)).glob("*.yaml"))
