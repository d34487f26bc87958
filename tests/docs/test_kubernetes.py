"""deploy/kubernetes: parses, hangs together, and runs jobqueue the way its CLI expects.

No cluster here: the manifests are read with pyyaml and checked for what would otherwise
only fail at ``kubectl apply`` time or, worse, at the first probe.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from scripts.doctools.cliargs import check_args, long_options, script_options
from tests.docs.dockerfile import stages
from tests.docs.repo import ECHO_CONSUMER, REPO, load_yaml_documents

K8S = REPO / "deploy" / "kubernetes"
Manifest = dict[str, Any]


def _manifests() -> list[Manifest]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml_documents(path)
    ]


def _get(kind: str, name: str) -> Manifest:
    for doc in _manifests():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    pytest.fail(f"no {kind} {name} in {K8S}")


def _pod(deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = _get("Deployment", deployment)["spec"]["template"]["spec"]
    return spec


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        if container["name"] == name:
            found: dict[str, Any] = container
            return found
    pytest.fail(f"no container {name}")


def _option(args: list[str], name: str) -> str:
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]


def _port(container: dict[str, Any], ref: int | str) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(ref, int):
        return ref
    for port in container.get("ports", []):
        if port.get("name") == ref:
            number: int = port["containerPort"]
            return number
    pytest.fail(f"container {container['name']} has no port named {ref}")


def _check_probes(container: dict[str, Any], port: int) -> None:
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{container['name']} {probe}"
        assert _port(container, get["port"]) == port, f"{container['name']} {probe} port"


def test_every_manifest_parses_and_is_listed_in_the_kustomization() -> None:
    """Every YAML document has apiVersion, kind and name; kustomize applies every file."""
    for doc in _manifests():
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name")
    (kustomization,) = load_yaml_documents(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_jobqueue_containers_use_the_kustomized_image_and_valid_cli_args() -> None:
    """Containers of the `jobqueue` image run `jobqueue <args>` that the CLI accepts."""
    (kustomization,) = load_yaml_documents(K8S / "kustomization.yaml")
    assert [image["name"] for image in kustomization["images"]] == ["jobqueue"]
    seen = 0
    for doc in _manifests():
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["image"] == "jobqueue", container["name"]
            if "command" not in container:  # the image's entrypoint: jobqueue
                assert check_args(container["args"]) == [], container["name"]
                seen += 1
    assert seen >= 3  # migrate, controller, dispatcher


def test_controller_deployment_and_service() -> None:
    """Migrations run first, probes hit /health and /ready on --port, the Service routes there."""
    pod = _pod("jobqueue-controller")
    migrate = pod["initContainers"][0]
    assert migrate["args"] == ["migrate"]
    controller = _container(pod, "controller")
    assert controller["args"][0] == "controller"
    port = int(_option(controller["args"], "--port"))
    assert _option(controller["args"], "--host") == "0.0.0.0"
    _check_probes(controller, port)
    db_envs = [
        next(e for e in c["env"] if e["name"] == "JOBQUEUE_DB") for c in (migrate, controller)
    ]
    assert db_envs[0] == db_envs[1] and "secretKeyRef" in db_envs[0]["valueFrom"]

    service = _get("Service", "jobqueue-controller")
    labels = _get("Deployment", "jobqueue-controller")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["port"] == 4000
    assert _port(controller, service_port["targetPort"]) == port


def test_worker_has_the_dispatcher_as_a_sidecar() -> None:
    """The dispatcher runs beside the worker, probed on its port, reaching the controller."""
    pod = _pod("echo-worker")
    dispatcher = _container(pod, "dispatcher")
    if dispatcher in pod.get("initContainers", []):
        assert dispatcher.get("restartPolicy") == "Always", "an init container must be a sidecar"
    args = dispatcher["args"]
    assert args[0] == "dispatcher"
    port = int(_option(args, "--port"))
    _check_probes(dispatcher, port)
    # The kubelet probes the pod IP: the dispatcher cannot stay on loopback, so it needs a token.
    assert _option(args, "--host") == "0.0.0.0"
    assert "JOBQUEUE_DISPATCHER_TOKEN" in {e["name"] for e in dispatcher["env"]}

    controller_url = urlsplit(_option(args, "--controller"))
    service = _get("Service", "jobqueue-controller")
    assert controller_url.hostname == service["metadata"]["name"]
    assert controller_url.port == service["spec"]["ports"][0]["port"]

    drain_s = float(_option(args, "--drain-timeout"))
    assert pod["terminationGracePeriodSeconds"] > drain_s


def test_worker_talks_to_its_sidecar_with_real_flags() -> None:
    """The echo worker reaches the dispatcher on localhost with flags its --help lists."""
    pod = _pod("echo-worker")
    worker = _container(pod, "worker")
    dispatcher_port = _option(_container(pod, "dispatcher")["args"], "--port")
    assert worker["command"][-1].endswith(ECHO_CONSUMER.rpartition("/")[2])
    assert _option(worker["args"], "--dispatcher") == f"http://127.0.0.1:{dispatcher_port}"
    known = script_options(ECHO_CONSUMER, cwd=str(REPO))
    assert set(long_options(worker["args"])) <= known


def test_pods_run_as_the_image_user() -> None:
    """runAsNonRoot with the uid the Dockerfile's final USER sets."""
    _, dockerfile_stages = stages(REPO / "Dockerfile")
    uid = int(dockerfile_stages[-1].all("USER")[-1].arguments.split(":")[0])
    for name in ("jobqueue-controller", "echo-worker"):
        security = _pod(name)["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["runAsUser"] == uid
