"""The sendfiles sender: order, partial sends on a full socket, file checks and descriptors."""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from openvna.errors import ArchiveError
from openvna.server.zerocopy import OPEN_AHEAD, _Sender, in_memory
from openvna.web.sendfiles import SendFile


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair whose sending side is non-blocking with a small buffer, so a send
    fills it after a few kilobytes and ``push`` has to stop and resume."""
    out, into = socket.socketpair()
    out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    out.setblocking(False)
    with out, into:
        yield out, into


def _send_all(sender: _Sender, out: socket.socket, into: socket.socket) -> tuple[bytes, int]:
    """Push until finished while a thread reads (from after the first push); the bytes read
    and how often push stopped on a full socket."""
    received: list[bytes] = []

    def read() -> None:
        while chunk := into.recv(65536):
            received.append(chunk)

    reader = threading.Thread(target=read)
    sender.push(out.fileno())  # before anything is read: more than the buffer holds must wait
    stops = 0 if sender.finished else 1
    reader.start()
    try:
        while not sender.finished:
            select.select([], [out], [], 5)
            sender.push(out.fileno())
            stops += not sender.finished
    finally:
        sender.close()
        out.shutdown(socket.SHUT_WR)
        reader.join(5)
    return b"".join(received), stops


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_items_arrive_in_order_across_partial_sends(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    whole = os.urandom(300_000)
    framed = bytes(range(256)) * 40
    items: list[bytes | SendFile] = [
        b"head-1",
        SendFile(_file(tmp_path, "a", whole), ((0, len(whole)),), len(whole)),
        b"",
        b"head-2" * 1000,
        SendFile(_file(tmp_path, "b", framed), ((5000, 100), (7, 0), (3, 9000)), None),
        b"end",
    ]
    before = _open_descriptors()
    received, stops = _send_all(_Sender(items), *pair)
    expected = b"head-1" + whole + b"head-2" * 1000 + framed[5000:5100] + framed[3:9003]
    assert received == expected + b"end"
    assert stops > 0, "the socket never filled: the resume path went untested"
    assert _open_descriptors() == before


def test_files_are_opened_a_window_at_a_time(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    data = os.urandom(20_000)
    count = 2 * OPEN_AHEAD + 5
    path = _file(tmp_path, "f", data)
    sender = _Sender([SendFile(path, ((0, len(data)),), len(data)) for _ in range(count)])
    before = _open_descriptors()
    sender.push(pair[0].fileno())  # the socket fills within the first file
    assert 0 < _open_descriptors() - before <= OPEN_AHEAD
    received, _ = _send_all(sender, *pair)
    assert received == data * count
    assert _open_descriptors() == before


@pytest.mark.parametrize(
    ("size", "ranges", "message"),
    [
        (10, ((0, 10),), "holds 6 bytes where 10 were expected"),
        (4, ((0, 4),), "holds 6 bytes where 4 were expected"),
        (None, ((2, 5),), "holds 6 bytes where 7 were expected"),
    ],
)
def test_a_file_that_disagrees_is_refused_before_its_bytes(
    pair: tuple[socket.socket, socket.socket],
    tmp_path: Path,
    size: int | None,
    ranges: tuple[tuple[int, int], ...],
    message: str,
) -> None:
    path = _file(tmp_path, "short", b"123456")
    sender = _Sender([b"head", SendFile(path, ranges, size)])
    before = _open_descriptors()
    with pytest.raises(ArchiveError, match=message):
        sender.push(pair[0].fileno())
    sender.close()
    assert _open_descriptors() == before
    pair[0].close()
    assert pair[1].recv(100) == b"head"


def test_a_missing_file_is_an_archive_error(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    sender = _Sender([SendFile(str(tmp_path / "gone"), ((0, 3),), 3)])
    with pytest.raises(ArchiveError, match="gone is missing"):
        sender.push(pair[0].fileno())


def test_in_memory_tells_cached_from_evicted_pages(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(1 << 20))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.pread(fd, 1 << 20, 0)
        assert in_memory(fd, (1 << 20) - 1)
        os.fsync(fd)  # clean pages, which the kernel drops when told they are not needed
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert not in_memory(fd, (1 << 20) - 1)
    finally:
        os.close(fd)


def test_a_file_not_in_memory_is_read_in_and_sent(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    data = os.urandom(200_000)
    path = _file(tmp_path, "cold", data)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    assert not in_memory(fd, len(data) - 1)
    os.close(fd)
    received, _ = _send_all(_Sender([SendFile(path, ((0, len(data)),), len(data))]), *pair)
    assert received == data
