"""jobqueue: durable job queues with retries, backoff and a DLQ behind a small HTTP API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
