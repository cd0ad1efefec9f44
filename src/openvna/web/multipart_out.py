"""Streaming responses out of the blob store: multipart/related (PS3.18 §8.6.1.2) and single part.

Measured on the target machine (DESIGN.md): the cost of streaming stored files is the number of
thread hops, not the bytes. A hop per 64 KB chunk streams 200 MB/s, a hop per file about 1 GB/s,
and a hop per ``READ_LIMIT`` bytes (several small files read together) over 2 GB/s. So
consecutive blobs are read in groups of up to ``READ_LIMIT`` bytes per hop and each goes out as
one ``bytes`` message (never a memoryview: granian sends those 20x slower, measured);
a blob larger than ``READ_LIMIT`` is read ``READ_LIMIT`` bytes per hop through a handle opened
once, which keeps memory flat however big the study. Sizes come from the index, so the
Content-Length of the whole body is known before the first byte and no chunked encoding is
needed; a blob that turns out shorter aborts the stream rather than sending a body that
disagrees with its length.

On a server that offers the ``openvna.http.response.sendfiles`` extension (``openvna serve``:
uvicorn with the zero-copy protocol) and contents that are files (``Content.filename``), the
files are not read at all: the whole body, header bytes and the files' names and ranges, goes
to the server in one message, and the server opens and sends the files itself (sendfile).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Final

from anyio import to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from openvna.archive import Content
from openvna.web.sendfiles import SENDFILES, SendFile

__all__ = [
    "READ_LIMIT",
    "BlobResponse",
    "MultipartBody",
    "ResponsePart",
    "multipart_response",
    "single_part_response",
    "stream_content",
]

READ_LIMIT: Final = 4 << 20


@dataclass(frozen=True)
class ResponsePart:
    """One part of a response body: its Content-Type (with any transfer-syntax parameter) and
    its bytes, given or stored."""

    content_type: str
    body: bytes | Content
    location: str | None = None

    @property
    def size(self) -> int:
        return self.body.size if isinstance(self.body, Content) else len(self.body)

    def header(self, boundary: str) -> bytes:
        # One f-string: a study retrieve builds 500 of these before its first byte.
        location = f"Content-Location: {self.location}\r\n" if self.location else ""
        return (
            f"--{boundary}\r\nContent-Type: {self.content_type}\r\n{location}"
            f"Content-Length: {self.size}\r\n\r\n"
        ).encode("latin-1")


class MultipartBody:
    """The bytes of a multipart/related body, produced lazily, with its length known up front."""

    def __init__(self, parts: Sequence[ResponsePart], boundary: str | None = None):
        self.parts = parts
        self.boundary = boundary or secrets.token_hex(16)
        # The CRLF before a delimiter belongs to it (RFC 2046 §5.1.1); a body with no parts is
        # just the close delimiter.
        closing = f"--{self.boundary}--\r\n".encode("latin-1")
        self._closing = b"\r\n" + closing if parts else closing

    @cached_property
    def headers(self) -> list[bytes]:
        """Each part's header block, delimiter included."""
        return [part.header(self.boundary) for part in self.parts]

    @property
    def content_length(self) -> int:
        separators = 2 * max(len(self.parts) - 1, 0)
        sizes = sum(part.size for part in self.parts)
        return sum(map(len, self.headers)) + sizes + separators + len(self._closing)

    def content_type(self, part_type: str) -> str:
        return f'multipart/related; type="{part_type}"; boundary={self.boundary}'

    async def __aiter__(self) -> AsyncIterator[bytes]:
        prefix = b""
        for group in _groups(self.parts):
            large = group[0].body
            if isinstance(large, Content) and large.size > READ_LIMIT:
                yield prefix + group[0].header(self.boundary)
                async for chunk in stream_content(large):
                    yield chunk
                prefix = b"\r\n"
                continue
            stored = [part.body for part in group if isinstance(part.body, Content)]
            contents = iter(await to_thread.run_sync(_read_many, stored))
            for part in group:
                yield prefix + part.header(self.boundary)
                body = next(contents) if isinstance(part.body, Content) else part.body
                if body:
                    yield body
                prefix = b"\r\n"
        yield self._closing

    def files(self) -> list[bytes | SendFile] | None:
        """The body as header bytes and files, for a server that sends files itself; None when
        a stored content is not a file (then the body streams as bytes)."""
        items: list[bytes | SendFile] = []
        prefix = b""
        for part, header in zip(self.parts, self.headers, strict=True):
            if isinstance(part.body, Content):
                file = _send_file(part.body)
                if file is None:
                    return None
                items += [prefix + header, file]
            else:
                items.append(prefix + header + part.body)
            prefix = b"\r\n"
        items.append(self._closing)
        return items


def _send_file(content: Content) -> SendFile | None:
    """The content as a file for the server to send (None: it is not a file): whole files must
    be exactly the size the index records, and spans must lie within the file."""
    filename = content.filename
    if filename is None:
        return None
    return SendFile(filename, content.ranges(), content.size if content.whole else None)


def _groups(parts: Sequence[ResponsePart]) -> Iterator[Sequence[ResponsePart]]:
    """Consecutive parts whose blobs add up to at most READ_LIMIT bytes (one thread hop each);
    a larger blob is a group of its own, read piecewise."""
    group: list[ResponsePart] = []
    total = 0
    for part in parts:
        size = part.body.size if isinstance(part.body, Content) else 0
        if group and total + size > READ_LIMIT:
            yield group
            group, total = [], 0
        group.append(part)
        total += size
        if total > READ_LIMIT:
            yield group
            group, total = [], 0
    if group:
        yield group


async def stream_content(content: Content) -> AsyncIterator[bytes]:
    """Yield the content's bytes: whole in one thread hop when small, READ_LIMIT per hop else."""
    if content.size <= READ_LIMIT:
        yield await to_thread.run_sync(content.read)
        return
    handle = await to_thread.run_sync(content.open)
    try:
        for offset, length in content.ranges():
            end = offset + length
            for start in range(offset, end, READ_LIMIT):
                want = min(READ_LIMIT, end - start)
                yield await to_thread.run_sync(content.read_at, handle, start, want)
    finally:
        handle.close()


def _read_many(group: Sequence[Content]) -> list[bytes]:
    return [content.read() for content in group]


class BlobResponse(StreamingResponse):
    """Streams its body as bytes, or, when the server offers ``SENDFILES`` and ``files`` gives
    the body as files, hands it the whole body as header bytes and files in one message."""

    def __init__(
        self,
        content: AsyncIterator[bytes] | MultipartBody,
        files: Callable[[], list[bytes | SendFile] | None] | None,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        super().__init__(content, headers=headers, media_type=media_type)
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        items = None
        if self.files is not None and SENDFILES in scope.get("extensions", {}):
            items = self.files()
        if items is None:
            await super().__call__(scope, receive, send)
            return
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        await send({"type": SENDFILES, "items": items, "more_body": False})


def multipart_response(
    parts: Sequence[ResponsePart],
    part_type: str,
    headers: Mapping[str, str] | None = None,
) -> BlobResponse:
    """A streamed multipart/related response whose parts are of ``part_type``."""
    body = MultipartBody(parts)
    all_headers = {"Content-Length": str(body.content_length), **(headers or {})}
    return BlobResponse(body, body.files, all_headers, body.content_type(part_type))


def single_part_response(
    part: ResponsePart, headers: Mapping[str, str] | None = None
) -> BlobResponse:
    """A streamed single part response (PS3.18 §10.4.4 allows it for a single response item)."""
    all_headers = {"Content-Length": str(part.size), **(headers or {})}
    if part.location:
        all_headers["Content-Location"] = part.location
    body = part.body
    content = stream_content(body) if isinstance(body, Content) else _once(body)
    files = partial(_whole_body, body) if isinstance(body, Content) else None
    return BlobResponse(content, files, all_headers, part.content_type)


def _whole_body(content: Content) -> list[bytes | SendFile] | None:
    file = _send_file(content)
    return None if file is None else [file]


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
