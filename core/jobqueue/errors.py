"""The error types of jobqueue, one tree for the whole project.

Every failure a user can see is one of these types; the HTTP services map them to a status
in one place (`jobqueue.web.errors`) and the client SDK maps the status back by ``code``.

    JobQueueError
    ├── InvalidInput            400  a request field is wrong (names the field and why)
    ├── Unauthorized            401  missing or wrong bearer token
    ├── NotFound                404
    │   ├── JobNotFound              no such job (or it is archived)
    │   └── NotSubscribed            the dispatcher does not serve this job
    ├── Conflict                409
    │   ├── JobExists                create of a name that exists
    │   └── InvalidTransition        e.g. start an archived job
    ├── PayloadTooLarge         413
    ├── ServiceUnavailable      503
    │   ├── JobStopped               polls of a stopped job
    │   ├── BackPressure             too many un-acked messages
    │   ├── ControllerUnavailable    the dispatcher cannot reach the controller
    │   └── BrokerUnavailable        cannot reach the broker (retryable)
    │       └── PublishFailed        some records were not accepted (lists them)
    ├── BrokerConfigError       400  the queue config is invalid for its broker
    └── PluginError             500  plugin loading problems (never a bare traceback)
        ├── DuplicateBroker
        └── UnknownBroker       400  lists the installed brokers
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class JobQueueError(Exception):
    """Base of every jobqueue error; ``code`` is its stable wire name."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(JobQueueError):
    """A request field is missing, of the wrong type or out of range."""

    code = "invalid_input"

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        where = f"`{field}`" if field else "request body"
        super().__init__(f"invalid {where}: {reason}")


class Unauthorized(JobQueueError):
    code = "unauthorized"


class NotFound(JobQueueError):
    code = "not_found"


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"job {name!r} not found")


class NotSubscribed(NotFound):
    code = "not_subscribed"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"job {name!r} is not subscribed on this dispatcher; subscribe first")


class Conflict(JobQueueError):
    code = "conflict"


class JobExists(Conflict):
    code = "job_exists"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"job {name!r} already exists")


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, name: str, state: str, action: str) -> None:
        self.name = name
        self.state = state
        self.action = action
        super().__init__(f"cannot {action} job {name!r}: it is {state}")


class PayloadTooLarge(JobQueueError):
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body is larger than the limit of {limit} bytes")


class ServiceUnavailable(JobQueueError):
    code = "unavailable"


class JobStopped(ServiceUnavailable):
    code = "job_stopped"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"job {name!r} is stopped: polls are refused, ack/nack still work")


class BackPressure(ServiceUnavailable):
    code = "back_pressure"

    def __init__(self, name: str, in_flight: int, limit: int) -> None:
        self.name = name
        super().__init__(
            f"job {name!r} has {in_flight} un-acked messages (limit {limit}); ack or nack first"
        )


class ControllerUnavailable(ServiceUnavailable):
    code = "controller_unavailable"


class BrokerUnavailable(ServiceUnavailable):
    """The broker cannot be reached or refused the operation; the caller may retry."""

    code = "broker_unavailable"

    def __init__(self, broker: str, address: str, reason: str) -> None:
        self.broker = broker
        self.address = address
        self.reason = reason
        super().__init__(f"{broker} broker at {address} unavailable: {reason}")


class PublishFailed(BrokerUnavailable):
    """Some records of a publish were not durably accepted; ``failed`` holds their indexes."""

    code = "publish_failed"

    def __init__(self, broker: str, address: str, failed: Sequence[int], reason: str) -> None:
        self.failed = list(failed)
        super().__init__(broker, address, f"{len(self.failed)} record(s) not accepted: {reason}")


class BrokerConfigError(JobQueueError):
    """The queue config is not valid for its broker."""

    code = "broker_config_error"

    def __init__(self, broker: str, reason: str, field: str = "") -> None:
        self.broker = broker
        self.field = field
        self.reason = reason
        where = f" field `{field}`" if field else ""
        super().__init__(f"invalid {broker} broker config{where}: {reason}")


class PluginError(JobQueueError):
    code = "plugin_error"


class DuplicateBroker(PluginError):
    code = "duplicate_broker"

    def __init__(self, name: str, first: str, second: str) -> None:
        self.name = name
        super().__init__(
            f"broker name {name!r} is registered by both {first} and {second}; "
            f"uninstall one or block it with JOBQUEUE_DISABLE_PLUGINS"
        )


class UnknownBroker(PluginError):
    code = "unknown_broker"

    def __init__(self, name: str, installed: Iterable[str]) -> None:
        self.name = name
        self.installed = sorted(installed)
        listed = ", ".join(self.installed) or "none"
        super().__init__(f"unknown broker type {name!r}; installed brokers: {listed}")
