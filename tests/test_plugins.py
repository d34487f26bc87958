"""Broker plugin discovery (`jobqueue.plugins`): entry points, load guards, names, lookups.

Third-party plugins are real distributions on ``sys.path``: one is built and installed by pip,
the others are ``.dist-info`` directories written by hand (what an install leaves behind).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import jobqueue
from jobqueue.contract import Broker, BrokerConfig, Capabilities, Consumer, Producer
from jobqueue.errors import BrokerConfigError, DuplicateBroker, PluginError, UnknownBroker
from jobqueue.hookspecs import RegisterBroker, hookimpl
from jobqueue.plugins import DISABLE_ENV, ENTRY_POINT_GROUP, load_brokers

# A complete broker module as a third party would ship it; {cls} and {broker} are filled in.
BROKER_MODULE = '''\
"""A throwaway third-party jobqueue broker."""

from __future__ import annotations

from jobqueue.contract import Broker, BrokerConfig, Capabilities
from jobqueue.hookspecs import hookimpl


class {cls}Config(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    topic: str

    def main_topic(self) -> str:
        return self.topic

    def address(self) -> str:
        return "{broker}.invalid:1"


class {cls}(Broker):
    name = "{broker}"
    config_type = {cls}Config
    capabilities = Capabilities(max_payload_bytes=1024)

    def producer(self, topic):
        raise NotImplementedError

    def consumer(self, topic, group, *, lease_ms=30_000):
        raise NotImplementedError

    def ensure_topics(self, topics):
        return None


@hookimpl
def jobqueue_register_brokers(register):
    register({cls})
'''


def broker_module(broker: str) -> str:
    """Source of a module that registers one broker called ``broker``."""
    cls = "".join(part.capitalize() for part in broker.replace("-", "_").split("_")) + "Broker"
    return BROKER_MODULE.format(cls=cls, broker=broker)


def unique(prefix: str) -> str:
    """A name no other test (or installed package) uses, so sys.modules never mixes them."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class Site:
    """A directory on ``sys.path`` into which tests drop distributions."""

    path: Path

    def add(
        self,
        dist: str,
        version: str,
        entry_points: dict[str, str],
        modules: dict[str, str] | None = None,
    ) -> None:
        """Write ``modules`` and a ``.dist-info`` declaring ``entry_points`` in our group."""
        for module, source in (modules or {}).items():
            (self.path / f"{module}.py").write_text(source)
        info = self.path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{k} = {v}" for k, v in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")

    def add_broker(self, dist: str, broker: str, version: str = "1.0.0") -> str:
        """A distribution with one entry point registering broker ``broker``; its module name."""
        module = unique(broker.replace("-", "_"))
        self.add(dist, version, {broker: module}, {module: broker_module(broker)})
        return module


def _forget_modules(path: Path) -> None:
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(path)):
            del sys.modules[name]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A fresh directory on ``sys.path``, seen along with everything installed."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield Site(path)
    _forget_modules(path)
    importlib.invalidate_caches()


@pytest.fixture
def isolated(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """Like `site`, but discovery sees only the distributions in it (not the environment)."""
    original = importlib.metadata.distributions

    def only_site(**kwargs: Any) -> Any:
        return original(path=[str(site.path)])

    monkeypatch.setattr(importlib.metadata, "distributions", only_site)
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return site


# -- a real install ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pip_installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A third-party broker project built and installed by pip into its own target dir."""
    root = tmp_path_factory.mktemp("acme")
    module = unique("acme_jobqueue")
    project = root / "project"
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text('"""Acme broker."""\n')
    (project / module / "plugin.py").write_text(broker_module("acme"))
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "acme-jobqueue-broker"
            version = "1.2.3"

            [project.entry-points.jobqueue]
            acme = "{module}.plugin"

            [tool.setuptools]
            packages = ["{module}"]
            """
        )
    )
    target = root / "site"
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
        str(project),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    return target, module


def test_pip_installed_distribution_is_discovered(
    pip_installed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker distribution installed by pip is found with its distribution name and version."""
    target, module = pip_installed
    monkeypatch.syspath_prepend(str(target))
    try:
        registry = load_brokers()
    finally:
        _forget_modules(target)
    info = registry.brokers["acme"]
    assert (info.distribution, info.version) == ("acme-jobqueue-broker", "1.2.3")
    assert info.cls.__module__ == f"{module}.plugin"
    assert issubclass(info.cls, Broker)
    assert "acme" in registry.names()


def test_hand_built_dist_info_is_discovered_among_installed(site: Site) -> None:
    """A ``.dist-info`` on sys.path is discovered next to what the environment provides."""
    site.add_broker("Hand-Built-Broker", "handmade", version="0.0.7")
    registry = load_brokers()
    info = registry.brokers["handmade"]
    assert (info.distribution, info.version) == ("Hand-Built-Broker", "0.0.7")


def test_core_sqlite_broker_is_discovered() -> None:
    """The embedded sqlite broker registers through the entry point of the core distribution."""
    registry = load_brokers()
    assert "sqlite" in registry.brokers, f"sqlite not registered; failures: {registry.failures}"
    info = registry.brokers["sqlite"]
    assert (info.distribution, info.version) == ("jobqueue", jobqueue.__version__)


def test_same_distribution_twice_on_path_loads_once(
    isolated: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution visible from two path entries registers its broker once, not twice."""
    isolated.add_broker("twice", "twice")
    copy = tmp_path / "copy"
    copy.mkdir()
    Site(copy).add("twice", "1.0.0", {"twice": "unused_module_name"})
    original = importlib.metadata.distributions
    monkeypatch.setattr(
        importlib.metadata,
        "distributions",
        lambda **_: original(path=[str(isolated.path), str(copy)]),
    )
    registry = load_brokers()
    assert registry.names() == ["twice"]
    assert registry.failures == []


# -- broken plugins ------------------------------------------------------------------------

BROKEN = {
    "import error": ("import jobqueue_dependency_that_is_not_installed\n", "ModuleNotFoundError"),
    "exception at import": ("raise RuntimeError('boom at import')\n", "boom at import"),
    "syntax error": ("def broken(:\n", "SyntaxError"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_plugin_is_reported_and_others_still_load(
    isolated: Site, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """A plugin whose import fails logs a warning naming its distribution; others still load."""
    source, expected = BROKEN[case]
    module = unique("broken")
    isolated.add("jobqueue-broken", "0.1.0", {"broken": module}, {module: source})
    isolated.add_broker("jobqueue-good", "good")
    with caplog.at_level(logging.WARNING, logger="jobqueue.plugins"):
        registry = load_brokers()
    assert registry.names() == ["good"]
    [failure] = registry.failures
    assert (failure.entry_point, failure.distribution) == ("broken", "jobqueue-broken")
    assert expected in failure.error
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("jobqueue-broken" in w and expected in w for w in warnings), warnings


@dataclass
class FakeDistribution:
    """What `importlib.metadata.distributions` yields, as pluggy's own tests fake it."""

    metadata: dict[str, str]
    version: str
    entry_points: list[importlib.metadata.EntryPoint]


def test_faked_distribution_with_missing_attribute_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry point naming an attribute its module lacks is a load failure, not a crash."""
    ep = importlib.metadata.EntryPoint(
        name="ghost", value="jobqueue.hookspecs:no_such_attribute", group=ENTRY_POINT_GROUP
    )
    fake = FakeDistribution({"Name": "jobqueue-ghost"}, "9.9", [ep])
    monkeypatch.setattr(importlib.metadata, "distributions", lambda **_: [fake])
    with caplog.at_level(logging.WARNING, logger="jobqueue.plugins"):
        registry = load_brokers()
    assert registry.brokers == {}
    assert [(f.entry_point, f.distribution) for f in registry.failures] == [
        ("ghost", "jobqueue-ghost")
    ]
    assert "AttributeError" in registry.failures[0].error
    assert "jobqueue-ghost" in caplog.text


def test_entry_points_of_other_groups_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the ``jobqueue`` group is loaded; another group's broken entry point is not touched."""
    ep = importlib.metadata.EntryPoint(
        name="x", value="module_that_does_not_exist_anywhere", group="console_scripts"
    )
    fake = FakeDistribution({"Name": "other-tool"}, "1.0", [ep])
    monkeypatch.setattr(importlib.metadata, "distributions", lambda **_: [fake])
    registry = load_brokers()
    assert (registry.brokers, registry.failures) == ({}, [])


def test_hookimpl_with_wrong_signature_is_a_load_failure(
    isolated: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook implementation with parameters the spec lacks is reported; the others load."""
    module = unique("badsig")
    source = (
        "from jobqueue.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def jobqueue_register_brokers(register, surprise):\n"
        "    pass\n"
    )
    isolated.add("jobqueue-badsig", "0.1.0", {"badsig": module}, {module: source})
    isolated.add_broker("jobqueue-good", "good")
    with caplog.at_level(logging.WARNING, logger="jobqueue.plugins"):
        registry = load_brokers()
    assert registry.names() == ["good"]
    assert [f.distribution for f in registry.failures] == ["jobqueue-badsig"]
    assert "surprise" in registry.failures[0].error
    assert "jobqueue-badsig" in caplog.text


def test_unknown_hook_is_a_load_failure(isolated: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A plugin implementing a hook this jobqueue does not define fails alone."""
    module = unique("future")
    source = (
        "from jobqueue.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def jobqueue_hook_from_the_future(x):\n"
        "    pass\n"
    )
    isolated.add("jobqueue-future", "2.0", {"future": module}, {module: source})
    isolated.add_broker("jobqueue-good", "good")
    with caplog.at_level(logging.WARNING, logger="jobqueue.plugins"):
        registry = load_brokers()
    assert registry.names() == ["good"]
    assert [f.distribution for f in registry.failures] == ["jobqueue-future"]
    assert "jobqueue_hook_from_the_future" in registry.failures[0].error
    assert "jobqueue-future" in caplog.text


def test_hook_that_raises_is_a_load_failure(
    isolated: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """A register hook raising (e.g. a lazy import) is reported with its distribution."""
    module = unique("lazy")
    source = (
        "from jobqueue.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def jobqueue_register_brokers(register):\n"
        "    import jobqueue_lazy_dependency_that_is_missing\n"
    )
    isolated.add("jobqueue-lazy", "0.3", {"lazy": module}, {module: source})
    isolated.add_broker("jobqueue-good", "good")
    with caplog.at_level(logging.WARNING, logger="jobqueue.plugins"):
        registry = load_brokers()
    assert registry.names() == ["good"]
    assert [(f.entry_point, f.distribution) for f in registry.failures] == [
        ("lazy", "jobqueue-lazy")
    ]
    assert "jobqueue_lazy_dependency_that_is_missing" in registry.failures[0].error
    assert "jobqueue-lazy" in caplog.text


# -- names ---------------------------------------------------------------------------------


def test_duplicate_broker_name_names_both_distributions(isolated: Site) -> None:
    """Two distributions registering one broker name is a DuplicateBroker naming both."""
    isolated.add_broker("jobqueue-first", "twin")
    isolated.add_broker("jobqueue-second", "twin")
    with pytest.raises(DuplicateBroker) as caught:
        load_brokers()
    assert caught.value.name == "twin"
    assert "jobqueue-first" in str(caught.value)
    assert "jobqueue-second" in str(caught.value)
    assert DISABLE_ENV in str(caught.value)


def test_same_entry_point_name_in_two_distributions_both_load(isolated: Site) -> None:
    """Entry point names are per distribution: two plugins both called ``broker`` both load."""
    for dist, broker in (("jobqueue-alpha", "alpha"), ("jobqueue-beta", "beta")):
        module = unique(broker)
        isolated.add(dist, "1.0", {"broker": module}, {module: broker_module(broker)})
    registry = load_brokers()
    assert registry.names() == ["alpha", "beta"]
    assert registry.brokers["beta"].distribution == "jobqueue-beta"


def test_duplicate_hidden_behind_same_entry_point_name_is_detected(isolated: Site) -> None:
    """Two distributions whose entry points share a name and a broker name still conflict."""
    for dist in ("jobqueue-one", "jobqueue-two"):
        module = unique("same")
        isolated.add(dist, "1.0", {"same": module}, {module: broker_module("same")})
    with pytest.raises(DuplicateBroker) as caught:
        load_brokers()
    assert "jobqueue-one" in str(caught.value)
    assert "jobqueue-two" in str(caught.value)


def test_disable_env_blocks_entry_point_before_import(
    isolated: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``JOBQUEUE_DISABLE_PLUGINS`` names an entry point that is then never imported."""
    module = unique("blocked")
    isolated.add(
        "jobqueue-blocked", "1.0", {"blocked": module}, {module: "raise RuntimeError('imported')\n"}
    )
    isolated.add_broker("jobqueue-good", "good")
    monkeypatch.setenv(DISABLE_ENV, "blocked")
    registry = load_brokers()
    assert registry.names() == ["good"]
    assert registry.failures == []
    assert module not in sys.modules


def test_disable_env_takes_a_list_and_broker_names(
    isolated: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comma list (spaces allowed) blocks entry points and broker names; a block resolves a
    duplicate."""
    module = unique("plugin")
    isolated.add("jobqueue-pair", "1.0", {"pair": module}, {module: broker_module("one")})
    isolated.add_broker("jobqueue-dupe-a", "dupe")
    isolated.add_broker("jobqueue-dupe-b", "dupe")
    isolated.add_broker("jobqueue-kept", "kept")
    monkeypatch.setenv(DISABLE_ENV, " pair , dupe,")
    registry = load_brokers()
    assert registry.names() == ["kept"]


# -- lookups and registration checks -------------------------------------------------------


class LocalConfig(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    topic: str
    partitions: int = 1


class LocalBroker(Broker):
    name = "local"
    config_type = LocalConfig
    capabilities = Capabilities(max_payload_bytes=10)

    def producer(self, topic: str) -> Producer:
        raise NotImplementedError

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> Consumer:
        raise NotImplementedError

    def ensure_topics(self, topics: Any) -> None:
        return None


class Registers:
    """A plugin object that registers whatever it is given."""

    def __init__(self, *registered: Any) -> None:
        self.registered = registered

    @hookimpl
    def jobqueue_register_brokers(self, register: RegisterBroker) -> None:
        for cls in self.registered:
            register(cls)


def test_unknown_broker_lists_the_installed_ones(isolated: Site) -> None:
    """``registry.get`` of a missing name raises UnknownBroker listing what is installed."""
    isolated.add_broker("jobqueue-good", "good")
    registry = load_brokers([Registers(LocalBroker)])
    assert registry.get("local") is LocalBroker
    with pytest.raises(UnknownBroker) as caught:
        registry.get("nope")
    assert caught.value.installed == ["good", "local"]
    assert "'nope'" in str(caught.value)
    assert "good, local" in str(caught.value)


def test_unknown_broker_with_nothing_installed_says_none(isolated: Site) -> None:
    """With no broker at all, the lookup error says so instead of listing nothing."""
    with pytest.raises(UnknownBroker, match="installed brokers: none"):
        load_brokers().get("sqlite")


def not_a_class() -> None:
    """A function, wrongly registered as a broker."""


class NotABroker:
    name = "fake"
    config_type = LocalConfig


class Nameless(LocalBroker):
    name = ""


@pytest.mark.parametrize(
    "registered", [not_a_class, NotABroker, LocalBroker(LocalConfig(topic="t")), Nameless]
)
def test_registering_a_non_broker_is_a_plugin_error(isolated: Site, registered: Any) -> None:
    """Only Broker subclasses with a name and a config type may be registered."""
    with pytest.raises(PluginError) as caught:
        load_brokers([Registers(registered)])
    assert type(caught.value) is PluginError
    assert "Broker" in str(caught.value) or "name" in str(caught.value)


def test_extra_plugins_are_registered_with_their_origin(isolated: Site) -> None:
    """Plugins passed in by an embedding host register like installed ones."""
    plugin = Registers(LocalBroker)
    registry = load_brokers([plugin])
    assert registry.names() == ["local"]
    assert registry.brokers["local"].cls is LocalBroker
    assert registry.brokers["local"].distribution


def test_registry_parse_config_uses_the_broker_config_type(isolated: Site) -> None:
    """``registry.parse_config`` validates with the named broker's config type."""
    registry = load_brokers([Registers(LocalBroker)])
    config = registry.parse_config("local", {"topic": "orders", "partitions": 3})
    assert config == LocalConfig(topic="orders", partitions=3)
    with pytest.raises(BrokerConfigError) as caught:
        registry.parse_config("local", {"topic": "orders", "partitions": "three"})
    assert (caught.value.broker, caught.value.field) == ("local", "partitions")
    with pytest.raises(UnknownBroker):
        registry.parse_config("kafka-typo", {})


def test_plugin_order_does_not_change_the_result(
    isolated: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery gives the same brokers whatever order the distributions are listed in."""
    for index in range(4):
        isolated.add_broker(f"jobqueue-b{index}", f"b{index}")
    forward = load_brokers()
    original: Callable[..., Any] = importlib.metadata.distributions
    monkeypatch.setattr(
        importlib.metadata, "distributions", lambda **kw: list(reversed(list(original(**kw))))
    )
    backward = load_brokers()
    assert forward.names() == backward.names() == ["b0", "b1", "b2", "b3"]
    assert {n: i.distribution for n, i in forward.brokers.items()} == {
        n: i.distribution for n, i in backward.brokers.items()
    }
