"""``server.acceptor``: uvicorn accepting on a socket shared by worker processes, one connection
at a time, and uvicorn's own server for a process alone on its socket."""

from __future__ import annotations

import asyncio
import errno
import http.client
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import uvicorn

from openvna.balance import accept_delay
from openvna.server import acceptor
from openvna.server import http as server_http
from openvna.server.acceptor import SharedSocketServer

Message = MutableMapping[str, Any]


async def _hello(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_connections_are_accepted_served_and_the_socket_outlives_the_server() -> None:
    """Connections arriving together are each accepted and answered (a worker holding some
    waits before taking the next, then takes it); stopping leaves the supervisor's socket
    open for the other workers."""
    sock = _listening()
    port = sock.getsockname()[1]
    config = uvicorn.Config(_hello, log_config=None, lifespan="off")
    server = SharedSocketServer(config, sock)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert _wait_started(server)
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda n: _get(port, f"/{n}"), range(12)))
        assert answers == [(200, f"/{n}".encode()) for n in range(12)]
    finally:
        server.should_exit = True
        thread.join(10)
    assert not thread.is_alive()
    assert sock.fileno() != -1  # the supervisor's, still listening
    sock.close()


def _wait_started(server: uvicorn.Server) -> bool:
    for _ in range(200):
        if server.started:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("shared", "kind"), [(True, SharedSocketServer), (False, uvicorn.Server)])
def test_only_a_socket_shared_with_other_workers_gets_the_acceptor(
    monkeypatch: pytest.MonkeyPatch, shared: bool, kind: type[uvicorn.Server]
) -> None:
    """A process alone on its socket (one worker, ``serve`` without the supervisor) accepts at
    once through uvicorn: there is no sibling to leave a connection to."""
    ran: list[tuple[type[uvicorn.Server], object]] = []

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        ran.append((type(self), sockets))
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    sock = _listening()
    try:
        server_http.run_uvicorn(_hello, "127.0.0.1", 0, sock, shared=shared)
    finally:
        sock.close()
    [(ran_kind, sockets)] = ran
    assert ran_kind is kind
    assert sockets == (None if shared else [sock])


class _RefusingOnce(socket.socket):
    """A listening socket whose first accept fails as a process out of descriptors sees it."""

    refusals = 1

    def accept(self) -> tuple[socket.socket, Any]:
        if self.refusals:
            self.refusals -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_an_accept_that_fails_for_want_of_descriptors_is_retried_not_spun_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """EMFILE leaves the connection queued: the worker stops watching the socket for
    ACCEPT_RETRY (the socket stays readable, so watching it would spin), then takes it."""
    monkeypatch.setattr(acceptor, "ACCEPT_RETRY", 0.05)
    sock = _RefusingOnce()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = SharedSocketServer(uvicorn.Config(_hello, log_config=None, lifespan="off"), sock)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert _wait_started(server)
        assert _get(sock.getsockname()[1], "/after") == (200, b"/after")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert sock.refusals == 0
    assert "accepting a connection failed, retrying" in caplog.text


@pytest.mark.parametrize(("held", "accepting", "wait"), [(0, 0, None), (1, 0, 1), (2, 1, 3)])
def test_a_worker_holding_connections_waits_before_it_accepts(
    monkeypatch: pytest.MonkeyPatch, held: int, accepting: int, wait: int | None
) -> None:
    """The wait that lets an idle sibling take a connection (``openvna.balance``): none for a
    worker serving nothing, ``accept_delay`` of the connections it holds or is taking
    otherwise. Whether the sibling is scheduled within it is the kernel's affair, so this
    checks the wait itself rather than where connections land."""
    sock = _listening()
    server = SharedSocketServer(uvicorn.Config(_hello, log_config=None, lifespan="off"), sock)
    server.server_state.connections.update(object() for _ in range(held))  # type: ignore[misc]
    server._accepting = accepting
    accepted: list[bool] = []
    monkeypatch.setattr(server, "_accept", lambda: accepted.append(True))
    delays: list[float] = []

    async def readable() -> None:
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "call_later", lambda delay, *_: delays.append(delay))
        server._readable()

    try:
        asyncio.run(readable())
    finally:
        sock.close()
    if wait is None:
        assert (accepted, delays) == ([True], [])
    else:
        assert (accepted, delays) == ([], [accept_delay(wait)])
