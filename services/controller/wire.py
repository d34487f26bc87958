"""Reply bodies only the controller uses (the shared ones live in `jobqueue.models`)."""

from __future__ import annotations

import msgspec


class Empty(msgspec.Struct):
    """``{}``: the reply of deregister, as in the original service."""


class Status(msgspec.Struct):
    status: str = "ok"


class RegistrationView(msgspec.Struct, kw_only=True):
    """A live dispatcher registration; times are unix milliseconds."""

    dispatcher_id: str
    job_name: str
    registered_at_ms: int
    last_seen_ms: int
    expires_at_ms: int


class RegistrationListReply(msgspec.Struct):
    registrations: list[RegistrationView]
