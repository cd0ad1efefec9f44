"""The ``openvna.http.response.sendfiles`` ASGI extension on uvicorn: stored files sent by sendfile.

Uvicorn copies every body byte twice (file to Python, Python to socket) and tops out near 2 GB/s
on the target machine; nginx sends the same study with ``sendfile`` several times faster
(DESIGN.md). ASGI's own ``http.response.zerocopysend`` sends one file range a message, and its
per-message cost (an ASGI round trip and an event loop wake-up for each 512 KB slice of a CT
study) held a whole-study retrieve at ~45% of nginx. So this server offers a batch instead: one
``SENDFILES`` message carries many items, header bytes and ``(file, offset, count)`` ranges, and
the request cycle pushes them all to the socket in a worker thread (``os.write`` and
``os.sendfile`` release the GIL, so the event loop and other requests go on meanwhile). Files
come by path, as in ASGI's ``http.response.pathsend``: the thread that sends them opens them,
``OPEN_AHEAD`` items at a time, so a whole study goes out in one thread hop (opening in a hop of
its own before each send cost a study retrieve 32 hops and GIL hand-offs between them).

The socket stays non-blocking: the thread pushes until the kernel's buffer is full, hands the rest
back, and the event loop waits for writability on a duplicate descriptor (the loop refuses
watchers on a descriptor a transport owns), so a slow client never holds a thread. Small batches
(a frame, a bulk data value) are pushed from the event loop directly: a thread hop would cost more
than the bytes. The socket is corked for the body and uncorked when it completes, so header bytes
and file ranges leave in full segments (nginx's ``tcp_nopush``).

``openvna serve`` runs uvicorn with ``ZeroCopyHttpToolsProtocol``; any other server does not offer
the extension and ``web.multipart_out`` streams bytes instead. The extension's messages are
defined by the app's side, ``web.sendfiles``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any, Final, cast

from anyio import to_thread
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from openvna.errors import ArchiveError
from openvna.web.sendfiles import SENDFILES, SendFile

__all__ = ["BODY_BUFFER", "OPEN_AHEAD", "ZeroCopyHttpToolsProtocol"]


log = logging.getLogger("openvna.server")

# Items opened together ahead of the one being sent: the kernel is asked to read in those of
# their files that are not in memory at once, so sendfile rarely waits for the disk, and no
# more descriptors are held meanwhile.
OPEN_AHEAD: Final = 64
_FADVISE: Final = hasattr(os, "posix_fadvise") and hasattr(os, "RWF_NOWAIT")  # Linux


# Request body bytes buffered per connection before reading pauses. uvicorn's 64 KB made each
# megabyte of a STOW-RS body cost ~16 pause/resume round trips between the protocol and the app.
BODY_BUFFER: Final = 4 << 20
# Batches up to this size are pushed from the event loop; larger ones from a worker thread.
_INLINE_BYTES: Final = 256 * 1024
# What a closed or reset connection looks like to write and sendfile.
_GONE: Final = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol plus ``SENDFILES`` (pass as ``http=``), and a larger request
    body buffer (``BODY_BUFFER``)."""

    def on_body(self, body: bytes) -> None:
        # uvicorn's on_body, keeping the chunks as they came (uvicorn appends each to a
        # bytearray, then copies that into the message: two copies of every body byte under the
        # GIL) and with BODY_BUFFER for its 64 KB HIGH_WATER_LIMIT.
        cycle = self.cycle
        if not isinstance(cycle, _ZeroCopyCycle):
            super().on_body(body)
            return
        if cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        cycle.chunks.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > BODY_BUFFER:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions = dict(self.scope.get("extensions") or {})
        extensions[SENDFILES] = {}
        self.scope["extensions"] = extensions

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The cycle was just built and its task not yet run: its ``send`` is looked up when the
        # task starts, so switching the class here gives the app the extended ``send``.
        cycle = self.cycle
        if type(cycle) is RequestResponseCycle:
            cycle.__class__ = _ZeroCopyCycle
            cast(_ZeroCopyCycle, cycle).adopt()


class _ZeroCopyCycle(RequestResponseCycle):
    _corked = False
    chunks: list[bytes]
    buffered: int

    def adopt(self) -> None:
        """Set up the state this class adds, on a cycle whose class was just switched."""
        self.chunks = []
        self.buffered = 0

    async def receive(self) -> Any:
        # uvicorn's receive, with the body taken from ``chunks`` (joined only when several).
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        chunks, self.chunks, self.buffered = self.chunks, [], 0
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: Any) -> None:
        if message["type"] != SENDFILES:
            await super().send(message)
            if self._corked and self.response_complete:
                self._cork(False)
            return
        if not self.response_started or self.response_complete or self.chunked_encoding:
            raise RuntimeError(f"{SENDFILES} needs a started response with a Content-Length")
        sender = _Sender(message["items"])
        total = sender.total
        if self.scope["method"] != "HEAD":
            if total > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            if not self._gone():
                self._cork(True)
                if self.flow.write_paused:
                    await self.flow.drain()
                await self._push_all(sender)
            self.expected_content_length -= total
        if not message.get("more_body", False):  # (through self.send, which uncorks)
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    def _gone(self) -> bool:
        """Whether the client has left (uvicorn may close the transport before it says so)."""
        if self.transport.is_closing():
            self.disconnected = True
        return self.disconnected

    def _cork(self, on: bool) -> None:
        if on == self._corked or self.transport.is_closing():
            return
        self._corked = on
        if hasattr(socket, "TCP_CORK"):  # Linux; elsewhere the segments are just smaller
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))

    async def _push_all(self, sender: _Sender) -> None:
        """Send every item in order, after whatever the transport still buffers."""
        out = os.dup(self.transport.get_extra_info("socket").fileno())
        try:
            while self.transport.get_write_buffer_size() and not self._gone():
                await _writable(out)
            while not sender.finished and not self._gone():
                try:
                    if sender.total <= _INLINE_BYTES:
                        sender.push(out)
                    else:
                        await to_thread.run_sync(sender.push, out)
                except _GONE:
                    # The client went away. Close our side so uvicorn runs connection_lost: while
                    # pipelined requests wait, it does not read, so it would never see the reset
                    # and the connection, its queued cycles and the server's shutdown would hang.
                    self.disconnected = True
                    self.transport.close()
                    log.debug(
                        "client went away during a response",
                        extra={"path": self.scope.get("path", "")},
                    )
                    return
                if not sender.finished:
                    await _writable(out)
        finally:
            sender.close()
            os.close(out)


class _Sender:
    """The items of one message, written in order to a non-blocking socket by ``push`` until
    the socket is full; files are opened ``OPEN_AHEAD`` items at a time and each is closed once
    sent. One thread at a time calls ``push``; ``close`` releases what is still open."""

    def __init__(self, items: list[bytes | SendFile]) -> None:
        lengths = [len(i) if isinstance(i, bytes) else i.length for i in items]
        self.total = sum(lengths)
        self._items = [item for item, length in zip(items, lengths, strict=True) if length]
        self._at = 0  # the item being sent
        self._range = 0  # which of its ranges, for a file
        self._done = 0  # how much of that item or range is sent
        self._open: dict[int, int] = {}  # item index -> descriptor
        self._opened_to = 0  # every file before this item has been opened

    @property
    def finished(self) -> bool:
        return self._at == len(self._items)

    def push(self, out: int) -> None:
        items = self._items
        try:
            while self._at < len(items):
                item = items[self._at]
                if isinstance(item, bytes):
                    rest = memoryview(item)[self._done :] if self._done else item
                    self._done += os.write(out, rest)
                    if self._done < len(item):
                        continue
                else:
                    if self._at >= self._opened_to:
                        self._open_ahead()
                    offset, count = item.ranges[self._range]
                    if self._done < count:
                        fd = self._open[self._at]
                        sent = os.sendfile(out, fd, offset + self._done, count - self._done)
                        if not sent:
                            raise ArchiveError(f"{item.path} ended while it was being sent")
                        self._done += sent
                        if self._done < count:
                            continue
                    self._range, self._done = self._range + 1, 0
                    if self._range < len(item.ranges):
                        continue
                    self._range = 0
                    os.close(self._open.pop(self._at))
                self._at, self._done = self._at + 1, 0
        except BlockingIOError:
            return

    def _open_ahead(self) -> None:
        end = min(len(self._items), self._at + OPEN_AHEAD)
        for index in range(self._opened_to, end):
            item = self._items[index]
            if isinstance(item, SendFile):
                self._open[index] = _open_checked(item)
        self._opened_to = end

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _open_checked(file: SendFile) -> int:
    """Open the file, check it holds what it should, and ask the kernel to start reading it in."""
    try:
        fd = os.open(file.path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ArchiveError(f"{file.path} is missing") from exc
    try:
        size = os.fstat(fd).st_size
        end = max(offset + count for offset, count in file.ranges)
        if (file.size is not None and size != file.size) or size < end:
            expected = end if file.size is None else file.size
            raise ArchiveError(f"{file.path} holds {size} bytes where {expected} were expected")
        if _FADVISE and not in_memory(fd, end - 1):
            for offset, count in file.ranges:
                if count:  # 0 would mean "to the end of the file"
                    os.posix_fadvise(fd, offset, count, os.POSIX_FADV_WILLNEED)
    except BaseException:
        os.close(fd)
        raise
    return fd


def in_memory(fd: int, offset: int) -> bool:
    """Whether the file's byte at ``offset`` is in the page cache, then so most likely is the
    rest: a recently stored or sent blob is. Asking costs 0.2 µs; asking the kernel to read in
    a file it already holds cost 1.3 µs (it looks up every page), 0.6 ms a study retrieve."""
    try:
        os.preadv(fd, [bytearray(1)], max(offset, 0), os.RWF_NOWAIT)
    except OSError:  # BlockingIOError: not in memory; others: the filesystem cannot tell
        return False
    return True


async def _writable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await ready
    finally:
        loop.remove_writer(fd)
