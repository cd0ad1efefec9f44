"""The UPS event channel (PS3.18 §6.9.10, §11.13): ``/subscribers/{AETitle}`` as a WebSocket.

One ``EventHub`` per server process holds that process's sockets by AE title and, while it holds
any, polls the index's event table (``openvna.ups.events``: why a table) every ``POLL`` seconds
in a worker thread, sending each event as a text frame of DICOM JSON to the sockets of its
recipients. So a subscriber gets its events whichever worker process it reached and whichever
process made the change.

Each socket has its own cursor in the event ids. It starts ``REPLAY_SECONDS`` back: a client
must subscribe before it may open its channel (an AE title with no subscription is refused, 404),
and the State Reports its subscription caused (PS3.4 CC.2.3.1) were emitted in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from openvna.errors import ArchiveError
from openvna.ups import Event, Workitems, require_ae_title
from openvna.web.context import settings_of
from openvna.web.dicomweb.ups.context import workitems_of
from openvna.web.errors import error_response

__all__ = ["POLL", "REPLAY_SECONDS", "EventHub", "open_channel"]

log = logging.getLogger("openvna.web")

POLL = 0.02  # seconds between reads of the event table while a socket is open
REPLAY_SECONDS = 10.0


@dataclass(eq=False)
class _Socket:
    websocket: WebSocket
    ae_title: str
    cursor: int


class EventHub:
    """The sockets of one process and the task that feeds them."""

    def __init__(self, workitems: Workitems) -> None:
        self.workitems = workitems
        self.sockets: set[_Socket] = set()
        self._task: asyncio.Task[None] | None = None

    async def attach(self, websocket: WebSocket, ae_title: str) -> _Socket:
        start = await run_in_threadpool(
            self.workitems.event_id_before, time.time() - REPLAY_SECONDS
        )
        socket = _Socket(websocket, ae_title, start)
        self.sockets.add(socket)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return socket

    def detach(self, socket: _Socket) -> None:
        self.sockets.discard(socket)

    async def _run(self) -> None:
        while self.sockets:
            try:
                await self._deliver()
            except ArchiveError as exc:  # the index away for a moment: try again
                log.warning("UPS event channel: %s", exc.message)
            await asyncio.sleep(POLL)

    async def _deliver(self) -> None:
        start = min(socket.cursor for socket in self.sockets)
        found: list[Event] = await run_in_threadpool(self.workitems.events_after, start)
        for socket in list(self.sockets):
            for event in found:
                if event.id > socket.cursor and socket.ae_title in event.recipients:
                    await self._send(socket, event)
            if found:
                socket.cursor = max(socket.cursor, found[-1].id)

    async def _send(self, socket: _Socket, event: Event) -> None:
        try:
            await socket.websocket.send_text(event.message.decode())
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.detach(socket)


def _hub(websocket: WebSocket) -> EventHub:
    state = websocket.app.state
    hub = getattr(state, "ups_hub", None)
    if not isinstance(hub, EventHub):
        hub = EventHub(workitems_of(websocket))
        state.ups_hub = hub
    return hub


async def open_channel(websocket: WebSocket) -> None:
    """Accept a subscriber's channel, then keep it until the client closes it. A malformed AE
    title is refused with 400, one that subscribes to nothing with 404 (before the upgrade)."""
    refusal = _key_refusal(websocket)
    if refusal:
        await _deny(websocket, 401, refusal)
        return
    try:
        ae_title = require_ae_title(str(websocket.path_params["aetitle"]))
        if not await run_in_threadpool(workitems_of(websocket).has_subscriptions, ae_title):
            await _deny(websocket, 404, f"{ae_title} has no subscription to any workitem")
            return
    except ArchiveError as exc:
        await _deny(websocket, exc.http_status, exc.message)
        return
    hub = _hub(websocket)
    await websocket.accept()
    socket = await hub.attach(websocket, ae_title)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    finally:
        hub.detach(socket)
        with contextlib.suppress(RuntimeError):
            await websocket.close()


def _key_refusal(websocket: WebSocket) -> str | None:
    """The API key check of ``web/auth.py`` for the WebSocket handshake, which that middleware
    (HTTP requests only) lets through: the same headers, ``apikey`` or a Bearer token."""
    keys = settings_of(websocket).auth.api_keys
    if not keys:
        return None
    offered = websocket.headers.get("apikey")
    authorization = websocket.headers.get("authorization", "")
    if offered is None and authorization[:7].lower() == "bearer ":
        offered = authorization[7:].strip()
    if offered is None:
        return "an API key is required: send it in the 'apikey' header or as a Bearer token"
    if any(hmac.compare_digest(offered.encode(), key.encode()) for key in keys):
        return None
    return "the API key is wrong: it is not one this server accepts"


async def _deny(websocket: WebSocket, status: int, message: str) -> None:
    """An HTTP answer instead of the upgrade, where the server can send one (uvicorn does)."""
    response: Response = error_response(status, message)
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(code=1008, reason=message[:120])
