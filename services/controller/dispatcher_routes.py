"""Routes dispatchers call: register, deregister, gossip (heartbeat), and a list for operators.

register and gossip return queue configs in clear: a dispatcher needs the broker credentials.
They sit behind the same bearer token as the admin routes.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from jobqueue.models import (
    DeregisterRequest,
    GossipReply,
    GossipRequest,
    JobReply,
    RegisterRequest,
)
from jobqueue.web.body import read_json
from jobqueue.web.openapi import Operation
from jobqueue.web.responses import json_response

from .state import Endpoint, get_state
from .wire import Empty, RegistrationListReply, RegistrationView


async def register(request: Request) -> Response:
    state = get_state(request)
    body = await read_json(request, RegisterRequest, state.body_limit)
    record = await run_in_threadpool(
        state.registrations.register, body.dispatcher_id, body.job_name
    )
    return json_response(JobReply(job=record.to_job(reveal_secrets=True)))


async def deregister(request: Request) -> Response:
    state = get_state(request)
    body = await read_json(request, DeregisterRequest, state.body_limit)
    await run_in_threadpool(state.registrations.deregister, body.dispatcher_id, body.job_id)
    return json_response(Empty())


async def gossip(request: Request) -> Response:
    state = get_state(request)
    body = await read_json(request, GossipRequest, state.body_limit)
    records = await run_in_threadpool(state.registrations.gossip, body.dispatcher_id)
    jobs = [record.to_job(reveal_secrets=True) for record in records]
    return json_response(GossipReply(jobs=jobs))


async def list_registrations(request: Request) -> Response:
    state = get_state(request)
    ttl_ms = state.registrations.ttl_ms
    registrations = await run_in_threadpool(state.registrations.live)
    views = [
        RegistrationView(
            dispatcher_id=item.dispatcher_id,
            job_name=item.job_name,
            registered_at_ms=item.registered_at_ms,
            last_seen_ms=item.last_seen_ms,
            expires_at_ms=item.last_seen_ms + ttl_ms,
        )
        for item in registrations
    ]
    return json_response(RegistrationListReply(registrations=views))


OPERATIONS: list[tuple[Operation, Endpoint]] = [
    (
        Operation(
            "POST",
            "/api/v1/dispatcher/register/",
            "Register a dispatcher for a job (also a heartbeat); the job, secrets in clear",
            RegisterRequest,
            JobReply,
            (400, 401, 404, 413),
        ),
        register,
    ),
    (
        Operation(
            "POST",
            "/api/v1/dispatcher/deregister/",
            "A dispatcher no longer serves the job with version id `job_id`",
            DeregisterRequest,
            Empty,
            (400, 401, 404, 413),
        ),
        deregister,
    ),
    (
        Operation(
            "POST",
            "/api/v1/dispatcher/gossip/",
            "Heartbeat; the live version of every job the dispatcher is registered for",
            GossipRequest,
            GossipReply,
            (400, 401, 413),
        ),
        gossip,
    ),
    (
        Operation(
            "GET",
            "/api/v1/dispatcher/",
            "Live dispatcher registrations",
            None,
            RegistrationListReply,
            (401,),
        ),
        list_registrations,
    ),
]
