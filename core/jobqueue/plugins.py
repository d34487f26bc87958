"""Finding broker plugins: entry points in the ``jobqueue`` group, loaded through pluggy.

Each entry point is loaded on its own: a plugin whose import fails is reported with a warning
naming its distribution and the others still load. Two plugins registering one broker name is
an error. ``JOBQUEUE_DISABLE_PLUGINS=a,b`` blocks entry points (or broker names) a and b.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from jobqueue import hookspecs
from jobqueue.contract import Broker, BrokerConfig
from jobqueue.errors import DuplicateBroker, PluginError, UnknownBroker

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "jobqueue"
DISABLE_ENV = "JOBQUEUE_DISABLE_PLUGINS"


@dataclass(frozen=True)
class BrokerInfo:
    """A registered broker and where it came from."""

    name: str
    cls: type[Broker]
    distribution: str
    version: str


@dataclass
class PluginLoadFailure:
    entry_point: str
    distribution: str
    error: str


@dataclass
class BrokerRegistry:
    """The brokers found in this environment, by name."""

    brokers: dict[str, BrokerInfo] = field(default_factory=dict)
    failures: list[PluginLoadFailure] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted(self.brokers)

    def get(self, name: str) -> type[Broker]:
        try:
            return self.brokers[name].cls
        except KeyError:
            raise UnknownBroker(name, self.brokers) from None

    def parse_config(self, broker_type: str, raw: Any) -> BrokerConfig:
        """Validate ``queue_config.config`` with the config type of broker ``broker_type``."""
        return self.get(broker_type).parse_config(raw)


def _disabled() -> set[str]:
    return {part.strip() for part in os.environ.get(DISABLE_ENV, "").split(",") if part.strip()}


def _entry_points() -> Iterable[tuple[importlib.metadata.EntryPoint, str, str]]:
    seen: set[tuple[str, str]] = set()
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"] or "unknown"
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or (dist_name, ep.name) in seen:
                continue
            seen.add((dist_name, ep.name))
            yield ep, dist_name, dist.version


def _register_one(
    registry: BrokerRegistry, disabled: set[str], cls: type[Broker], dist: str, version: str
) -> None:
    if not isinstance(cls, type) or not issubclass(cls, Broker):
        raise PluginError(f"plugin from {dist} registered {cls!r}, which is not a Broker class")
    name = getattr(cls, "name", "")
    if not name or not getattr(cls, "config_type", None):
        raise PluginError(f"broker class {cls.__qualname__} from {dist} lacks name or config_type")
    if name in disabled:
        return
    known = registry.brokers.get(name)
    if known is not None:
        raise DuplicateBroker(name, known.distribution, dist)
    registry.brokers[name] = BrokerInfo(name, cls, dist, version)


def _record_failure(
    registry: BrokerRegistry, entry_point: str, dist_name: str, exc: BaseException
) -> None:
    message = f"{type(exc).__name__}: {exc}"
    log.warning(
        "could not load jobqueue plugin %r from distribution %s: %s",
        entry_point,
        dist_name,
        message,
    )
    registry.failures.append(PluginLoadFailure(entry_point, dist_name, message))


def load_brokers(extra_plugins: Iterable[ModuleType | object] = ()) -> BrokerRegistry:
    """Discover every installed broker plugin (plus ``extra_plugins``, for tests and embedding)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = BrokerRegistry()
    disabled = _disabled()
    # pluggy plugin name -> (entry point, distribution, version)
    origin: dict[str, tuple[str, str, str]] = {}
    for ep, dist_name, version in _entry_points():
        if ep.name in disabled:
            continue
        # Entry point names are only unique within a distribution.
        plugin_name = f"{dist_name}:{ep.name}"
        try:
            plugin = ep.load()
            if pm.is_registered(plugin):  # a second entry point naming the same module
                continue
            pm.register(plugin, name=plugin_name)
            try:
                pm.check_pending()  # only this plugin can fail: the earlier ones passed
            except pluggy.PluginValidationError:
                pm.unregister(plugin)
                raise
        except Exception as exc:  # a broken plugin must not take the others down
            _record_failure(registry, ep.name, dist_name, exc)
            continue
        origin[plugin_name] = (ep.name, dist_name, version)
    for index, plugin in enumerate(extra_plugins):
        name = f"extra-{index}"
        pm.register(plugin, name=name)
        origin[name] = (name, getattr(plugin, "__name__", repr(plugin)), "")
    pm.check_pending()

    for impl in reversed(pm.hook.jobqueue_register_brokers.get_hookimpls()):
        entry_point, dist_name, version = origin[impl.plugin_name]
        registered: list[type[Broker]] = []
        try:
            impl.function(register=registered.append)
        except Exception as exc:  # e.g. a lazy import of a missing client library
            _record_failure(registry, entry_point, dist_name, exc)
            continue
        for cls in registered:
            _register_one(registry, disabled, cls, dist_name, version)
    return registry
