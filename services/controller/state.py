"""What the route handlers share, hung on ``app.state`` by `create_app`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .db import Database
from .metrics import ControllerMetrics
from .registrations import RegistrationStore
from .store import JobStore
from .validation import JobValidator

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class ControllerState:
    db: Database
    jobs: JobStore
    registrations: RegistrationStore
    validator: JobValidator
    metrics: ControllerMetrics
    body_limit: int
    openapi: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> ControllerState:
    state = request.app.state.controller
    assert isinstance(state, ControllerState)
    return state
