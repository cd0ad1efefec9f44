"""uvicorn on a listening socket that several worker processes share, each taking its fair part.

uvicorn hands a shared socket to its event loop's server, which accepts every connection queued
whenever the socket is readable. Two STOW-RS clients that connect together (the bench's 2 x 10
CT row) then landed in one worker in most runs: both requests shared one interpreter lock while
the other worker sat idle, and the row's rate moved between 230 and 430 instances per second
with where the two connections happened to land. ``SharedSocketServer`` accepts instead: one
connection at a time, after the wait ``openvna.balance`` gives a worker for the connections it
already holds, so an idle sibling takes the next one. An accepted connection gets uvicorn's own
HTTP protocol, as uvicorn's server would give it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Final

import uvicorn

from openvna.balance import accept_delay

__all__ = ["ACCEPT_RETRY", "SharedSocketServer"]

log = logging.getLogger("openvna.server")

ACCEPT_RETRY: Final = 1.0  # seconds a worker waits after accept failed for want of resources


class SharedSocketServer(uvicorn.Server):
    """A uvicorn server that accepts connections on ``listening`` itself (see the module)."""

    def __init__(self, config: uvicorn.Config, listening: socket.socket) -> None:
        super().__init__(config)
        self._listening = listening
        self._accepting = 0  # connections accepted whose protocol is not yet made

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app's lifespan, no listener of uvicorn's
        self._listening.setblocking(False)
        self._watch()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._listening.fileno() != -1:
            asyncio.get_running_loop().remove_reader(self._listening.fileno())
        await super().shutdown(sockets)

    def _watch(self) -> None:
        if not self.should_exit and self._listening.fileno() != -1:
            asyncio.get_running_loop().add_reader(self._listening.fileno(), self._readable)

    def _readable(self) -> None:
        """A connection is queued: take it now if this worker serves none, else after its wait,
        not watching the socket meanwhile (a sibling may take the connection)."""
        serving = len(self.server_state.connections) + self._accepting
        loop = asyncio.get_running_loop()
        if serving:
            loop.remove_reader(self._listening.fileno())
            loop.call_later(accept_delay(serving), self._accept_and_watch)
            return
        try:
            self._accept()
        except OSError as exc:
            loop.remove_reader(self._listening.fileno())
            self._retry_later(exc)

    def _accept_and_watch(self) -> None:
        if self.should_exit or self._listening.fileno() == -1:
            return
        try:
            self._accept()
        except OSError as exc:
            self._retry_later(exc)
        else:
            self._watch()

    def _retry_later(self, exc: OSError) -> None:
        """Out of descriptors, say: the peers wait in the queue while this worker waits a
        second (as asyncio's own server does), rather than spinning on the readable socket."""
        log.warning("accepting a connection failed, retrying in %s s: %s", ACCEPT_RETRY, exc)
        asyncio.get_running_loop().call_later(ACCEPT_RETRY, self._watch)

    def _accept(self) -> None:
        try:
            connection, _ = self._listening.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # a sibling took it, or the peer left while it was queued
        connection.setblocking(False)
        self._accepting += 1
        asyncio.get_running_loop().create_task(self._connect(connection))

    async def _connect(self, connection: socket.socket) -> None:
        config = self.config
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: config.http_protocol_class(  # type: ignore[call-arg]
                    config=config,
                    server_state=self.server_state,
                    app_state=self.lifespan.state,
                ),
                connection,
            )
        except OSError as exc:  # the peer left before its transport was made
            log.debug("a connection closed as it was accepted: %s", exc)
            connection.close()
        finally:
            self._accepting -= 1
