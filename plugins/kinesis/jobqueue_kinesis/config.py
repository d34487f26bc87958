"""The Kinesis broker's ``queue_config.config``: validated by msgspec, secrets never shown.

Rules that span fields (both halves of an access key) are checked in ``__post_init__`` and
raised as `BrokerConfigError` naming the field, so they hold however the config is built.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import msgspec

from jobqueue.contract import BrokerConfig
from jobqueue.errors import BrokerConfigError

BROKER_NAME = "kinesis"

# AWS naming rules: streams 1-128 and DynamoDB tables 3-255 characters of [a-zA-Z0-9_.-].
StreamName = Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9_.-]{1,128}$")]
TableName = Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9_.-]{3,255}$")]
Region = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,}(-[a-z]+)+-\d+$")]
EndpointUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+(/\S*)?$")]
Secret = Annotated[str, msgspec.Meta(min_length=1)]

LEASE_TABLE_PREFIX = "jobqueue-leases-"


class KinesisConfig(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    """Where the streams are, how to authenticate and how to tune the consumer.

    ``stream_name``: the job's main stream (its topic). ``region``: AWS region.
    ``endpoint_url``: a Kinesis-compatible endpoint (LocalStack, moto) instead of AWS;
    ``dynamodb_endpoint_url`` defaults to it. ``lease_table``: the DynamoDB table holding shard
    leases and checkpoints; defaults to ``jobqueue-leases-<stream_name>``; one table serves
    every (group, stream) pair. ``shard_count``: shards of the streams ``ensure_topics``
    creates. Without ``aws_access_key_id`` / ``aws_secret_access_key`` the standard AWS
    credential chain is used. ``publish_attempts``: tries per record before a publish fails.
    ``idle_poll_ms``: pause between rounds of GetRecords that returned nothing (Kinesis allows
    five GetRecords calls per second per shard, shared by every reader).
    """

    __secret_fields__: ClassVar[frozenset[str]] = frozenset(
        {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
    )

    stream_name: StreamName
    region: Region = "us-east-1"
    endpoint_url: EndpointUrl | None = None
    dynamodb_endpoint_url: EndpointUrl | None = None
    lease_table: TableName | None = None
    shard_count: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1
    aws_access_key_id: Secret | None = None
    aws_secret_access_key: Secret | None = None
    aws_session_token: Secret | None = None
    publish_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    idle_poll_ms: Annotated[int, msgspec.Meta(ge=10, le=10_000)] = 250

    def __post_init__(self) -> None:
        has_id = self.aws_access_key_id is not None
        has_secret = self.aws_secret_access_key is not None
        if has_id and not has_secret:
            raise BrokerConfigError(
                BROKER_NAME, "required when `aws_access_key_id` is set", "aws_secret_access_key"
            )
        if has_secret and not has_id:
            raise BrokerConfigError(
                BROKER_NAME, "required when `aws_secret_access_key` is set", "aws_access_key_id"
            )
        if self.aws_session_token is not None and not has_id:
            raise BrokerConfigError(
                BROKER_NAME, "required when `aws_session_token` is set", "aws_access_key_id"
            )

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.redacted().items())
        return f"{type(self).__name__}({fields})"

    def main_topic(self) -> str:
        return self.stream_name

    def address(self) -> str:
        if self.endpoint_url:
            return _without_userinfo(self.endpoint_url)
        return f"kinesis.{self.region}.amazonaws.com"

    def dynamodb_address(self) -> str:
        url = self.dynamodb_endpoint_url or self.endpoint_url
        if url:
            return _without_userinfo(url)
        return f"dynamodb.{self.region}.amazonaws.com"

    def lease_table_name(self) -> str:
        return self.lease_table or f"{LEASE_TABLE_PREFIX}{self.stream_name}"

    def redacted(self) -> dict[str, Any]:
        data = super().redacted()
        for key in ("endpoint_url", "dynamodb_endpoint_url"):
            if data.get(key):
                data[key] = _without_userinfo(data[key])
        return data


def _without_userinfo(url: str) -> str:
    """Drop ``user:password@`` from a URL so that it can be shown."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
