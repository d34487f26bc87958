"""The boto3 clients of one broker, and the one place AWS errors become jobqueue errors.

Timeouts and retries are set from ``BrokerContext.timeout_s`` so that an unreachable endpoint
fails within a bounded time instead of botocore's defaults (60 s reads, several retries).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from jobqueue.contract import BrokerContext
from jobqueue.errors import BrokerConfigError, BrokerUnavailable
from jobqueue_kinesis.config import BROKER_NAME, KinesisConfig

_ATTEMPTS = 3
_AUTH_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "UnrecognizedClientException",
    }
)


@dataclass(frozen=True)
class Clients:
    """A Kinesis and a DynamoDB client sharing one session; both are thread-safe."""

    kinesis: Any
    dynamodb: Any
    kinesis_address: str
    dynamodb_address: str

    def close(self) -> None:
        self.kinesis.close()
        self.dynamodb.close()


def make_clients(config: KinesisConfig, context: BrokerContext) -> Clients:
    """Build the clients; no request is sent, so this never fails on an unreachable endpoint."""
    session = boto3.session.Session(
        aws_access_key_id=config.aws_access_key_id,
        aws_secret_access_key=config.aws_secret_access_key,
        aws_session_token=config.aws_session_token,
        region_name=config.region,
    )
    # Each attempt may take up to connect + read timeout; three attempts with backoff keep an
    # unreachable endpoint within timeout_s plus a few seconds.
    timeout = max(context.timeout_s / _ATTEMPTS, 0.1)
    boto_config = botocore.config.Config(
        connect_timeout=timeout,
        read_timeout=max(context.timeout_s, 1.0),
        retries={"total_max_attempts": _ATTEMPTS, "mode": "standard"},
        max_pool_connections=20,
        tcp_keepalive=True,
    )
    dynamodb_url = config.dynamodb_endpoint_url or config.endpoint_url
    return Clients(
        kinesis=session.client("kinesis", endpoint_url=config.endpoint_url, config=boto_config),
        dynamodb=session.client("dynamodb", endpoint_url=dynamodb_url, config=boto_config),
        kinesis_address=config.address(),
        dynamodb_address=config.dynamodb_address(),
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: Exception, address: str, action: str) -> Exception:
    """Map a boto3/botocore failure of ``action`` to `BrokerUnavailable` or `BrokerConfigError`.

    Credential and permission problems are configuration errors (retrying does not help);
    everything else, including throttling that outlasted botocore's retries, is retryable.
    """
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return BrokerConfigError(
            BROKER_NAME,
            f"{action}: no AWS credentials found in the config or the standard AWS chain",
            "aws_access_key_id",
        )
    code = error_code(exc)
    if code in _AUTH_ERRORS:
        return BrokerConfigError(
            BROKER_NAME, f"{action} at {address} was refused: {code}", "aws_access_key_id"
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return BrokerUnavailable(BROKER_NAME, address, f"{action} failed: {code} {message}".strip())
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return BrokerUnavailable(BROKER_NAME, address, f"{action} failed: {exc}")
    return exc


@contextlib.contextmanager
def aws_errors(address: str, action: str) -> Iterator[None]:
    """Re-raise AWS failures inside the block as jobqueue errors naming ``action``."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise translate(exc, address, action) from exc
