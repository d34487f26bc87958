"""Creating what a broker needs on AWS: streams and the lease table, idempotently.

Each resource is described before it is created, so that resources provisioned by
infrastructure code work with credentials that may not create them; creation then waits until
the resource is usable (Kinesis takes tens of seconds to activate a stream).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import botocore.exceptions

from jobqueue.errors import BrokerUnavailable
from jobqueue_kinesis.clients import aws_errors, error_code
from jobqueue_kinesis.config import BROKER_NAME

WAIT_S = 300.0
_USABLE = ("ACTIVE", "UPDATING")


def ensure_streams(kinesis: Any, address: str, names: Sequence[str], shard_count: int) -> None:
    """Create the streams of ``names`` that are missing and wait until all are usable."""
    for name in dict.fromkeys(names):
        if _stream_status(kinesis, address, name) is not None:
            continue
        with aws_errors(address, f"CreateStream {name!r}"):
            try:
                kinesis.create_stream(StreamName=name, ShardCount=shard_count)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
    for name in dict.fromkeys(names):
        status = functools.partial(_stream_status, kinesis, address, name)
        _wait(address, f"stream {name!r}", status)


def ensure_lease_table(db: Any, address: str, table: str) -> None:
    """Create lease table ``table`` unless it exists, and wait until it is usable."""
    if _table_status(db, address, table) is None:
        with aws_errors(address, f"DynamoDB CreateTable {table!r}"):
            try:
                db.create_table(
                    TableName=table,
                    AttributeDefinitions=[
                        {"AttributeName": "lease_scope", "AttributeType": "S"},
                        {"AttributeName": "shard_id", "AttributeType": "S"},
                    ],
                    KeySchema=[
                        {"AttributeName": "lease_scope", "KeyType": "HASH"},
                        {"AttributeName": "shard_id", "KeyType": "RANGE"},
                    ],
                    BillingMode="PAY_PER_REQUEST",
                )
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
    _wait(address, f"lease table {table!r}", functools.partial(_table_status, db, address, table))


def _wait(address: str, what: str, status: Callable[[], str | None]) -> None:
    deadline = time.monotonic() + WAIT_S
    while (current := status()) not in _USABLE:
        if time.monotonic() > deadline:
            raise BrokerUnavailable(
                BROKER_NAME, address, f"{what} is still {current} after {WAIT_S:.0f} s"
            )
        time.sleep(1.0)


def _stream_status(kinesis: Any, address: str, name: str) -> str | None:
    with aws_errors(address, f"DescribeStreamSummary {name!r}"):
        try:
            summary = kinesis.describe_stream_summary(StreamName=name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
    return str(summary["StreamDescriptionSummary"]["StreamStatus"])


def _table_status(db: Any, address: str, table: str) -> str | None:
    with aws_errors(address, f"DynamoDB DescribeTable {table!r}"):
        try:
            description = db.describe_table(TableName=table)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
    return str(description["Table"]["TableStatus"])
