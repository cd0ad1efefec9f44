"""WADO-RS through uvicorn with the zero-copy protocol gives the very bytes of the copying path.

Two servers run over one archive: plain uvicorn (body bytes read in Python) and uvicorn with
``ZeroCopyHttpToolsProtocol`` (files sent with sendfile), as ``openvna serve`` runs it.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from openvna.archive import Archive
from openvna.archive.outcome import Origin
from openvna.runtime import build_archive
from openvna.server import zerocopy
from openvna.server.http import scu_maker
from openvna.server.zerocopy import OPEN_AHEAD, ZeroCopyHttpToolsProtocol
from openvna.settings import Settings
from openvna.web.app import create_app
from tests.factories import make_instance

pytestmark = [pytest.mark.integration, pytest.mark.engines("sqlite")]

STUDY_PARTS = 'multipart/related; type="application/dicom"'


# The running uvicorn servers by base URL, for tests that look at their connections.
_RUNNING: dict[str, uvicorn.Server] = {}


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner owns signals
        pass


@pytest.fixture
def servers(
    settings_factory: Callable[..., Settings],
) -> Iterator[tuple[Archive, str, str]]:
    """(archive, plain uvicorn URL, zero-copy uvicorn URL), both over the same archive."""
    settings = settings_factory()
    archive = build_archive(settings)
    app = create_app(settings, archive, scu_maker(settings, archive))
    running: list[tuple[_Server, threading.Thread]] = []
    urls = []
    for http in ("httptools", ZeroCopyHttpToolsProtocol):
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", http=http
        )
        server = _Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        urls.append(f"http://127.0.0.1:{port}/dicomweb")
        _RUNNING[urls[-1]] = server
    try:
        yield archive, urls[0], urls[1]
    finally:
        for server, thread in running:
            server.should_exit = True
            thread.join(10)
        archive.close()


@pytest.fixture
def study(servers: tuple[Archive, str, str]) -> str:
    """More instances than the server opens at a time, and a multi-frame one larger than a
    socket buffer."""
    archive = servers[0]
    study_uid = make_instance().StudyInstanceUID
    for n in range(OPEN_AHEAD + 3):
        outcome = archive.store_dataset(
            make_instance(study_uid=study_uid, InstanceNumber=n + 1, rows=32, columns=32 + n),
            origin=Origin.local("test"),
        )
        assert outcome.ok, outcome.message
    big = make_instance(study_uid=study_uid, InstanceNumber=99, rows=512, columns=512, frames=24)
    assert archive.store_dataset(big, Origin.local("test")).ok
    return study_uid


def _normalised(response: httpx.Response, content: bytes | None = None) -> bytes:
    """The body with the two things that differ between servers masked: boundary and port."""
    body = response.content if content is None else content
    boundary = response.headers["content-type"].rsplit("boundary=", 1)[1]
    assert int(response.headers["content-length"]) == len(body)
    host = f"{response.url.host}:{response.url.port}".encode()
    return body.replace(boundary.encode(), b"BOUNDARY").replace(host, b"HOST")


def _both(servers: tuple[Archive, str, str], path: str, accept: str) -> list[httpx.Response]:
    _, plain, zero = servers
    answers = [httpx.get(base + path, headers={"Accept": accept}) for base in (plain, zero)]
    assert [a.status_code for a in answers] == [200, 200]
    return answers


def test_study_retrieve_is_byte_identical(servers: tuple[Archive, str, str], study: str) -> None:
    plain, zero = _both(servers, f"/studies/{study}", STUDY_PARTS)
    assert _normalised(zero) == _normalised(plain)
    assert zero.content.count(b"Content-Type: application/dicom") == OPEN_AHEAD + 4


def test_frames_and_single_part_are_byte_identical(
    servers: tuple[Archive, str, str], study: str
) -> None:
    archive = servers[0]
    big = archive.index.locate(study)[-1]
    instance = f"/studies/{study}/series/{big.series_uid}/instances/{big.sop_uid}"
    frames = 'multipart/related; type="application/octet-stream"'
    plain, zero = _both(servers, instance + "/frames/3,1,24", frames)
    assert _normalised(zero) == _normalised(plain)
    plain, zero = _both(servers, instance, "application/dicom")
    assert zero.content == plain.content == archive.blobs.read_range(big.blob_key, 0, big.size)
    plain, zero = _both(servers, instance + "/frames/2", "application/octet-stream")
    assert zero.content == plain.content
    assert len(zero.content) == 512 * 512 * 2


def _slow_get(base: str, path: str, accept: str) -> tuple[dict[str, str], bytes]:
    """A GET whose reader starts late, so the server's socket fills up and its sends must wait
    for room. (A small SO_RCVBUF would force that too, but makes loopback TCP crawl.)"""
    url = httpx.URL(base + path)
    with socket.create_connection((url.host, url.port)) as sock:
        request = f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\nAccept: {accept}"
        sock.sendall(request.encode() + b"\r\n\r\n")
        time.sleep(0.3)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        chunks = [body]
        received = len(body)
        while received < int(headers["content-length"]):
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            chunks.append(chunk)
            received += len(chunk)
    return headers, b"".join(chunks)


def test_slow_reader_gets_every_byte_in_order(
    servers: tuple[Archive, str, str], study: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, plain, zero = servers
    waits: list[int] = []
    real = zerocopy._writable

    async def counted(fd: int) -> None:
        waits.append(fd)
        await real(fd)

    monkeypatch.setattr(zerocopy, "_writable", counted)
    expected = httpx.get(f"{plain}/studies/{study}", headers={"Accept": STUDY_PARTS})
    headers, body = _slow_get(zero, f"/studies/{study}", STUDY_PARTS)
    boundary = headers["content-type"].rsplit("boundary=", 1)[1]
    host = f"127.0.0.1:{httpx.URL(zero).port}".encode()
    got = body.replace(boundary.encode(), b"BOUNDARY").replace(host, b"HOST")
    assert got == _normalised(expected)
    assert waits, "the 12 MB body never filled the socket: the wait path went untested"


def test_connection_is_kept_alive(servers: tuple[Archive, str, str], study: str) -> None:
    _, _, zero = servers
    with httpx.Client() as client:
        answers = [
            client.get(f"{zero}/studies/{study}", headers={"Accept": STUDY_PARTS}) for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [200, 200]
    assert _normalised(answers[0]) == _normalised(answers[1])


def test_the_socket_is_uncorked_when_a_response_completes(
    servers: tuple[Archive, str, str], study: str
) -> None:
    """Corking holds back a partial segment until uncorked or for 200 ms: a response left
    corked would reach the client 200 ms late, with nothing else wrong."""
    _, _, zero = servers
    with httpx.Client() as client:  # keep-alive: the server's side of the connection stays
        answer = client.get(f"{zero}/studies/{study}", headers={"Accept": STUDY_PARTS})
        assert answer.status_code == 200
        (connection,) = _RUNNING[zero].server_state.connections
        sock = connection.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0


def test_head_sends_headers_only(servers: tuple[Archive, str, str], study: str) -> None:
    _, plain, zero = servers
    answers: list[Any] = [
        httpx.head(f"{base}/studies/{study}", headers={"Accept": STUDY_PARTS})
        for base in (plain, zero)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].content == b""
    lengths = {int(a.headers["content-length"]) for a in answers}
    assert len(lengths) == 1


def test_a_client_leaving_mid_body_costs_nothing(
    servers: tuple[Archive, str, str], study: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The client resets the connection after the first bytes: the send stops quietly (no
    error logged), every blob it opened is closed, and the server goes on answering."""
    _, _, zero = servers
    url = httpx.URL(f"{zero}/studies/{study}")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with socket.create_connection((url.host, url.port)) as sock:
            request = f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nAccept: {STUDY_PARTS}"
            sock.sendall(request.encode() + b"\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    answer = httpx.get(f"{zero}/studies/{study}", headers={"Accept": STUDY_PARTS})
    assert answer.status_code == 200
    assert answer.content.count(b"Content-Type: application/dicom") == OPEN_AHEAD + 4
    _assert_descriptors_back_to(before)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("pipelined", [2, 4])
def test_a_client_leaving_a_pipelined_connection_logs_no_error(
    servers: tuple[Archive, str, str],
    study: str,
    caplog: pytest.LogCaptureFixture,
    pipelined: int,
) -> None:
    """Several requests sent at once on one connection, which the client then resets: the
    server closes the connection (it does not read while requests wait, so it learns of the
    reset only from the failed send), no error is logged and nothing stays open."""
    caplog.set_level(logging.DEBUG, logger="openvna.server")
    _, _, zero = servers
    url = httpx.URL(f"{zero}/studies/{study}")
    request = f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nAccept: {STUDY_PARTS}\r\n\r\n"
    for _ in range(3):
        with socket.create_connection((url.host, url.port)) as sock:
            sock.sendall(request.encode() * pipelined)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    answer = httpx.get(f"{zero}/studies/{study}", headers={"Accept": STUDY_PARTS})
    assert answer.status_code == 200
    server = _RUNNING[zero]
    for _ in range(200):  # the answer's own connection closes when httpx.get returns
        if len(server.server_state.connections) == 0:
            break
        time.sleep(0.01)
    assert server.server_state.connections == set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    gone = [r for r in caplog.records if r.getMessage() == "client went away during a response"]
    assert len(gone) == 3 and {r.levelno for r in gone} == {logging.DEBUG}  # once a connection


def test_a_blob_changed_on_disk_cuts_the_response_and_nothing_else(
    servers: tuple[Archive, str, str], study: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A blob whose size no longer matches the index, found after the headers went out: the
    body stops short of its Content-Length (the client sees it broken, not wrong bytes), the
    error is logged with the file, no descriptor stays open, and other requests go on."""
    archive, _, zero = servers
    victim = archive.index.locate(study)[OPEN_AHEAD]
    path = archive.blobs.path(victim.blob_key)
    data = path.read_bytes()
    before = len(os.listdir("/proc/self/fd"))
    try:
        path.write_bytes(data[:-10])
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{zero}/studies/{study}", headers={"Accept": STUDY_PARTS})
    finally:
        path.write_bytes(data)
    logged = [r.exc_info[1] for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    expected = f"{path} holds {len(data) - 10} bytes where {len(data)} were expected"
    assert expected in [str(error.__cause__) for error in logged]
    answer = httpx.get(f"{zero}/studies/{study}", headers={"Accept": STUDY_PARTS})
    assert answer.content.count(b"Content-Type: application/dicom") == OPEN_AHEAD + 4
    _assert_descriptors_back_to(before)


def _assert_descriptors_back_to(before: int) -> None:
    """No more descriptors open than ``before``, once the server's side of closed connections
    has closed too (it does so asynchronously)."""
    for _ in range(100):
        if len(os.listdir("/proc/self/fd")) <= before:
            break
        time.sleep(0.02)
    assert len(os.listdir("/proc/self/fd")) <= before
