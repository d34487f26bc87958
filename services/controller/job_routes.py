"""Admin routes of the job registry (the original service's paths); secrets always masked."""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from jobqueue.errors import InvalidInput
from jobqueue.models import JobCreate, JobListReply, JobReply, JobState, JobUpdate
from jobqueue.models.job import Name
from jobqueue.web.body import read_json
from jobqueue.web.openapi import Operation
from jobqueue.web.responses import json_response

from .records import JOB_STATES, JobRecord
from .state import Endpoint, get_state
from .store import Action
from .validation import check_update_not_empty

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
JOB = "/api/v1/job/{name}/"


def job_name(request: Request) -> str:
    name = str(request.path_params["name"])
    if not _NAME.match(name):
        raise InvalidInput("name", "letters, digits, '-', '_', '.'; 1 to 100 characters")
    return name


def _reply(record: JobRecord) -> Response:
    return json_response(JobReply(job=record.to_job()))


def _list_reply(records: list[JobRecord]) -> Response:
    return json_response(JobListReply(jobs=[record.to_job() for record in records]))


async def create_job(request: Request) -> Response:
    state = get_state(request)
    body = await read_json(request, JobCreate, state.body_limit)

    def create() -> JobRecord:
        return state.jobs.create(body.name, state.validator.for_create(body))

    return _reply(await run_in_threadpool(create))


async def list_jobs(request: Request) -> Response:
    state = get_state(request)
    wanted = request.query_params.get("state")
    if wanted is not None and wanted not in JOB_STATES:
        raise InvalidInput("state", f"must be one of {', '.join(JOB_STATES)}")
    records = await run_in_threadpool(state.jobs.list_jobs, wanted)
    return _list_reply(records)


async def get_job(request: Request) -> Response:
    state = get_state(request)
    return _reply(await run_in_threadpool(state.jobs.get, job_name(request)))


async def job_versions(request: Request) -> Response:
    state = get_state(request)
    return _list_reply(await run_in_threadpool(state.jobs.versions, job_name(request)))


async def update_job(request: Request) -> Response:
    state = get_state(request)
    name = job_name(request)
    body = await read_json(request, JobUpdate, state.body_limit)
    check_update_not_empty(body)

    def update() -> JobRecord:
        return state.jobs.update(name, lambda current: state.validator.for_update(current, body))

    return _reply(await run_in_threadpool(update))


def _transition(action: Action) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        state = get_state(request)
        return _reply(await run_in_threadpool(state.jobs.transition, job_name(request), action))

    endpoint.__name__ = f"{action}_job"
    return endpoint


start_job = _transition("start")
stop_job = _transition("stop")
archive_job = _transition("archive")

_BAD_NAME = (400, 401, 404)
_PARAM_TYPES = {"name": Name, "state": JobState}
_OPERATIONS: list[tuple[Operation, Endpoint]] = [
    (
        Operation(
            "POST",
            "/api/v1/job/",
            "Create a job (version 1, stopped)",
            JobCreate,
            JobReply,
            (400, 401, 409, 413),
        ),
        create_job,
    ),
    (
        Operation(
            "GET",
            "/api/v1/job/",
            "List the live version of every job, or every version in `state`",
            None,
            JobListReply,
            (400, 401),
            ("state",),
        ),
        list_jobs,
    ),
    (
        Operation("GET", JOB, "The live version of a job", None, JobReply, _BAD_NAME, ("name",)),
        get_job,
    ),
    (
        Operation(
            "POST",
            JOB,
            "Update a job: writes version n+1 (same state), version n becomes deprecated",
            JobUpdate,
            JobReply,
            (400, 401, 404, 409, 413),
            ("name",),
        ),
        update_job,
    ),
    (
        Operation("DELETE", JOB, "Archive a job", None, JobReply, (*_BAD_NAME, 409), ("name",)),
        archive_job,
    ),
    (
        Operation(
            "PUT", JOB + "start/", "Start a job", None, JobReply, (*_BAD_NAME, 409), ("name",)
        ),
        start_job,
    ),
    (
        Operation("PUT", JOB + "stop/", "Stop a job", None, JobReply, (*_BAD_NAME, 409), ("name",)),
        stop_job,
    ),
    (
        Operation(
            "GET",
            JOB + "versions/",
            "Every version of a job, oldest first",
            None,
            JobListReply,
            _BAD_NAME,
            ("name",),
        ),
        job_versions,
    ),
]


def _typed(operation: Operation) -> Operation:
    """The operation with the rules its parameters are checked by (stated in the document)."""
    return replace(operation, param_types=tuple((p, _PARAM_TYPES[p]) for p in operation.params))


OPERATIONS = [(_typed(operation), endpoint) for operation, endpoint in _OPERATIONS]
