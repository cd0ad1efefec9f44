"""The ASGI ``http.response.zerocopysend`` extension on uvicorn: stored files sent by sendfile.

Uvicorn copies every body byte twice (file to Python, Python to socket) and tops out near 2 GB/s
on the target machine; nginx sends the same study with ``sendfile`` at 3.5 GB/s (DESIGN.md). The
ASGI spec defines the extension (``file``, ``offset``, ``count``, ``more_body``) for exactly this
case, multipart bodies that interleave small header bytes with file ranges, but uvicorn does not
implement it. ``ZeroCopyHttpToolsProtocol`` does: it advertises the extension in every HTTP
scope and makes the request cycle send those messages with ``os.sendfile`` on the connection's
socket, from the event loop thread, once the transport's own buffer is empty so bytes stay in
order. The socket is non-blocking: a full socket buffer waits for writability on a duplicate
descriptor (the loop refuses watchers on a descriptor a transport owns), so a slow client never
blocks the loop. The socket is corked for the body and uncorked when it completes.
``openvna serve`` runs uvicorn with this protocol; any other server simply
does not offer the extension and ``web.multipart_out`` streams bytes instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["ZEROCOPY", "ZeroCopyHttpToolsProtocol"]

ZEROCOPY: Final = "http.response.zerocopysend"


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol plus ``http.response.zerocopysend`` (pass as ``http=``)."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions = dict(self.scope.get("extensions") or {})
        extensions[ZEROCOPY] = {}
        self.scope["extensions"] = extensions

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The cycle was just built and its task not yet run: its ``send`` is looked up when the
        # task starts, so switching the class here gives the app the extended ``send``.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = _ZeroCopyCycle


class _ZeroCopyCycle(RequestResponseCycle):
    _corked = False

    async def send(self, message: Any) -> None:
        if message["type"] != ZEROCOPY:
            await super().send(message)
            if self._corked and self.response_complete:
                self._cork(False)
            return
        if not self._corked:
            self._cork(True)
        if not self.response_started or self.response_complete or self.chunked_encoding:
            raise RuntimeError(f"{ZEROCOPY} needs a started response with a Content-Length")
        fd = message["file"].fileno()
        offset = message.get("offset")
        offset = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
        count = message.get("count")
        count = os.fstat(fd).st_size - offset if count is None else count
        if self.scope["method"] != "HEAD":
            if count > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            if self.flow.write_paused and not self.disconnected:
                await self.flow.drain()
            if not self.disconnected:
                await self._sendfile(fd, offset, count)
            self.expected_content_length -= count
        if not message.get("more_body", False):
            await super().send({"type": "http.response.body", "body": b"", "more_body": False})

    def _cork(self, on: bool) -> None:
        """TCP_CORK while the body mixes small header writes with file ranges (nginx's
        ``tcp_nopush``): full segments only, flushed when the response completes. The bench
        client reads such a stream 1.6-1.8 -> 1.7-2.5 GB/s (measured)."""
        self._corked = on
        if hasattr(socket, "TCP_CORK"):  # Linux; elsewhere the segments are just smaller
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))

    async def _sendfile(self, fd: int, offset: int, count: int) -> None:
        out = os.dup(self.transport.get_extra_info("socket").fileno())
        try:
            while self.transport.get_write_buffer_size() and not self.disconnected:
                await _writable(out)
            while count and not self.disconnected:
                try:
                    sent = os.sendfile(out, fd, offset, count)
                except BlockingIOError:
                    await _writable(out)
                    continue
                except OSError:  # the client went away: uvicorn notices it and stops the cycle
                    self.disconnected = True
                    return
                if sent == 0:
                    raise RuntimeError(f"file ended {count} bytes before the range sent")
                offset += sent
                count -= sent
        finally:
            os.close(out)


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
