"""jobqueue's AWS Kinesis broker: streams as topics, DynamoDB shard leases as groups."""

from __future__ import annotations

from jobqueue_kinesis.broker import KinesisBroker
from jobqueue_kinesis.config import KinesisConfig

__all__ = ["KinesisBroker", "KinesisConfig"]
