"""The ``openvna.http.response.sendfiles`` ASGI extension on uvicorn: stored files sent by sendfile.

Uvicorn copies every body byte twice (file to Python, Python to socket) and tops out near 2 GB/s
on the target machine; nginx sends the same study with ``sendfile`` several times faster
(DESIGN.md). ASGI's own ``http.response.zerocopysend`` sends one file range a message, and its
per-message cost (an ASGI round trip and an event loop wake-up for each 512 KB slice of a CT
study) held a whole-study retrieve at ~45% of nginx. So this server offers a batch instead: one
``SENDFILES`` message carries many items, header bytes and ``(file, offset, count)`` ranges, and
the request cycle pushes them all to the socket in a worker thread (``os.write`` and
``os.sendfile`` release the GIL, so the event loop and other requests go on meanwhile).

The socket stays non-blocking: the thread pushes until the kernel's buffer is full, hands the rest
back, and the event loop waits for writability on a duplicate descriptor (the loop refuses
watchers on a descriptor a transport owns), so a slow client never holds a thread. Small batches
(a frame, a bulk data value) are pushed from the event loop directly: a thread hop would cost more
than the bytes. The socket is corked for the body and uncorked when it completes, so header bytes
and file ranges leave in full segments (nginx's ``tcp_nopush``).

``openvna serve`` runs uvicorn with ``ZeroCopyHttpToolsProtocol``; any other server does not offer
the extension and ``web.multipart_out`` streams bytes instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import deque
from typing import Any, Final, cast

from anyio import to_thread
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["BODY_BUFFER", "SENDFILES", "FileRange", "ZeroCopyHttpToolsProtocol"]

SENDFILES: Final = "openvna.http.response.sendfiles"

# (file descriptor, offset, count): a range of a file to send as it is.
FileRange = tuple[int, int, int]

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
        items: list[bytes | FileRange] = message["items"]
        total = sum(len(item) if isinstance(item, bytes) else item[2] for item in items)
        if self.scope["method"] != "HEAD":
            if total > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            if not self._gone():
                self._cork(True)
                if self.flow.write_paused:
                    await self.flow.drain()
                await self._push_all(items, total)
            self.expected_content_length -= total
        if not message.get("more_body", False):
            await super().send({"type": "http.response.body", "body": b"", "more_body": False})

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

    async def _push_all(self, items: list[bytes | FileRange], total: int) -> None:
        """Send every item in order, after whatever the transport still buffers."""
        out = os.dup(self.transport.get_extra_info("socket").fileno())
        try:
            while self.transport.get_write_buffer_size() and not self._gone():
                await _writable(out)
            pending: deque[list[Any]] = deque(list(item) for item in _normalised(items))
            while pending and not self._gone():
                try:
                    if total <= _INLINE_BYTES:
                        _push(out, pending)
                    else:
                        await to_thread.run_sync(_push, out, pending)
                except _GONE:  # the client went away: uvicorn notices it and stops the cycle
                    self.disconnected = True
                    return
                if pending:
                    await _writable(out)
        finally:
            os.close(out)


def _normalised(items: list[bytes | FileRange]) -> list[tuple[Any, ...]]:
    """Each item as ``(memoryview,)`` or ``(fd, offset, count)``; empty ones dropped."""
    normal: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, bytes):
            if item:
                normal.append((memoryview(item),))
        elif item[2]:
            normal.append(item)
    return normal


def _push(out: int, pending: deque[list[Any]]) -> None:
    """Write items from the front of ``pending`` until it is empty or the socket is full; a
    partly sent item stays at the front with what is left of it."""
    while pending:
        item = pending[0]
        try:
            if len(item) == 1:
                sent = os.write(out, item[0])
                item[0] = item[0][sent:]
                done = not item[0]
            else:
                fd, offset, count = item
                sent = os.sendfile(out, fd, offset, count)
                if sent == 0:
                    raise RuntimeError(f"file ended {count} bytes before the range sent")
                item[1], item[2] = offset + sent, count - sent
                done = not item[2]
        except BlockingIOError:
            return
        if done:
            pending.popleft()


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
