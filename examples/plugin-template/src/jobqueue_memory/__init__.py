"""jobqueue-memory: an in-process broker plugin for jobqueue, and the template for writing one.

Registered through the ``jobqueue`` entry-point group (see ``pyproject.toml`` and
`jobqueue_memory.plugin`); queue config ``{"type": "memory", "config": {"topic": "..."}}``.
"""

from __future__ import annotations

from jobqueue_memory.broker import MemoryBroker
from jobqueue_memory.config import MemoryConfig
from jobqueue_memory.store import Store, open_store

__all__ = ["MemoryBroker", "MemoryConfig", "Store", "open_store"]
