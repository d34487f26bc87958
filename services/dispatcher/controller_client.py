"""The dispatcher's calls to the controller: register, deregister, gossip."""

from __future__ import annotations

import httpx
import msgspec

from jobqueue.errors import ControllerUnavailable, JobNotFound
from jobqueue.models import (
    DeregisterRequest,
    GossipReply,
    GossipRequest,
    Job,
    JobReply,
    RegisterRequest,
)

_encode = msgspec.json.Encoder().encode


class ControllerClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 5.0) -> None:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s)

    async def _post(self, path: str, body: msgspec.Struct) -> bytes:
        try:
            response = await self._http.post(path, content=_encode(body))
        except httpx.HTTPError as exc:
            raise ControllerUnavailable(
                f"controller at {self.base_url} unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code == 200:
            return response.content
        try:
            text = msgspec.json.decode(response.content).get("error", response.text)
        except (msgspec.DecodeError, AttributeError):
            text = response.text
        if response.status_code == 404:
            raise JobNotFound(getattr(body, "job_name", "?"))
        hint = " (check the dispatcher's --controller-token)" if response.status_code == 401 else ""
        # Whatever else the controller says, this dispatcher cannot get the job's config: to the
        # worker that is an unavailable controller (503 with the reason), never a bare 500.
        raise ControllerUnavailable(
            f"controller at {self.base_url} answered {path} with {response.status_code}: "
            f"{text}{hint}"
        )

    async def register(self, dispatcher_id: str, job_name: str) -> Job:
        body = await self._post(
            "/api/v1/dispatcher/register/",
            RegisterRequest(dispatcher_id=dispatcher_id, job_name=job_name),
        )
        return msgspec.json.decode(body, type=JobReply).job

    async def deregister(self, dispatcher_id: str, job_id: int) -> None:
        await self._post(
            "/api/v1/dispatcher/deregister/",
            DeregisterRequest(dispatcher_id=dispatcher_id, job_id=job_id),
        )

    async def gossip(self, dispatcher_id: str) -> list[Job]:
        body = await self._post(
            "/api/v1/dispatcher/gossip/", GossipRequest(dispatcher_id=dispatcher_id)
        )
        return msgspec.json.decode(body, type=GossipReply).jobs

    async def aclose(self) -> None:
        await self._http.aclose()
