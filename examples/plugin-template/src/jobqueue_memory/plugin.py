"""The module the ``jobqueue`` entry point names: it registers the broker class, nothing else.

Keep it this small: jobqueue imports it at start-up, and an import error here is reported as
a warning naming this distribution while the other plugins still load.
"""

from __future__ import annotations

from jobqueue.hookspecs import RegisterBroker, hookimpl

from jobqueue_memory.broker import MemoryBroker


@hookimpl
def jobqueue_register_brokers(register: RegisterBroker) -> None:
    register(MemoryBroker)
