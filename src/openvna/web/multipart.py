"""Streaming multipart/related request bodies (RFC 2387; PS3.18 §8.6.1.2 for STOW-RS).

The body is fed chunk by chunk from ``request.stream()`` to ``_Splitter``, which finds the
delimiters with ``bytearray.find`` and hands each part's headers and bytes to ``_Receiver``. Each
part stays in memory while small and goes to a file in the blob store's spool directory once it
grows (or once the small parts together pass a budget), so memory stays flat whatever the body
size. Chunks are gathered to about 1 MB and split in a worker thread, one thread hop per
megabyte, so that file writes never block the event loop.

``read_parts`` is an async context manager: every spool file it made is removed on exit, whether
the parts were stored (the archive then has moved the files away), refused, or the client went
away in the middle of the body.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from openvna.errors import BadRequest, OutOfResources, PayloadTooLarge

__all__ = ["MEMORY_LIMIT", "Part", "parse_content_type", "read_parts"]

MEMORY_LIMIT = 256 * 1024  # a part larger than this goes to a spool file
_MEMORY_BUDGET = 8 * 1024 * 1024  # all parts held in memory together; beyond, parts spool
_BATCH = 1024 * 1024  # bytes gathered before one parse step in a worker thread


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased media type and parameters (names lower-cased,
    quotes removed), e.g. ``multipart/related; type="application/dicom"; boundary=x``."""
    media, params = parse_options_header(value)
    decoded = {
        name.decode("latin-1").lower(): raw.decode("latin-1") for name, raw in params.items()
    }
    return media.decode("latin-1").strip().lower(), decoded


@dataclass
class Part:
    """One body part: its headers (names lower-cased) and its bytes, in memory or spooled."""

    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0
    path: Path | None = None
    _memory: bytearray = field(default_factory=bytearray)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when the part has none)."""
        return parse_content_type(self.headers.get("content-type", ""))[0]

    @property
    def content_location(self) -> str | None:
        return self.headers.get("content-location")

    @property
    def content_id(self) -> str | None:
        """Content-ID without its angle brackets (RFC 2392), as referenced by ``cid:`` URIs."""
        value = self.headers.get("content-id")
        return value.strip().strip("<>") if value else None

    def open(self) -> BinaryIO:
        """A binary reader of the part's bytes (the caller closes it)."""
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self._memory)

    def read_bytes(self) -> bytes:
        if self.path is not None:
            return self.path.read_bytes()
        return bytes(self._memory)

    def take_file(self, spool_dir: Path) -> Path:
        """A file holding this part, now owned by the caller (it moves or removes it)."""
        if self.path is None:
            fd, name = tempfile.mkstemp(dir=spool_dir, prefix="stow-", suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._memory)
            return Path(name)
        path, self.path = self.path, None
        return path

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
        self._memory = bytearray()


class _Receiver:
    """What the splitter finds: collects each part's headers and routes its bytes to memory or
    a spool file."""

    def __init__(
        self, spool_dir: Path, max_part_bytes: int, on_part: Callable[[Part], None] | None
    ) -> None:
        self.parts: list[Part] = []
        self._on_part = on_part
        self._spool_dir = spool_dir
        self._max_part_bytes = max_part_bytes
        self._in_memory = 0
        self._part = Part()
        self._handle: BinaryIO | None = None

    def begin(self, headers: dict[str, str]) -> None:
        self._part = Part(headers)
        self.parts.append(self._part)

    def data(self, data: memoryview) -> None:
        part = self._part
        size = len(data)
        part.size += size
        if part.size > self._max_part_bytes:
            raise PayloadTooLarge(
                f"part {len(self.parts)} of the request exceeds the limit of "
                f"{self._max_part_bytes} bytes (settings dicomweb.max_part_bytes)"
            )
        if self._handle is None and (
            part.size > MEMORY_LIMIT or self._in_memory + size > _MEMORY_BUDGET
        ):
            fd, name = tempfile.mkstemp(dir=self._spool_dir, prefix="stow-", suffix=".part")
            part.path = Path(name)
            self._handle = os.fdopen(fd, "wb", buffering=0)
            self._handle.write(part._memory)
            self._in_memory -= len(part._memory)
            part._memory = bytearray()
        if self._handle is not None:
            self._handle.write(data)
        else:
            part._memory += data
            self._in_memory += size

    def end(self) -> None:
        """The current part is complete: its closing delimiter has been read."""
        self._close_file()
        if self._on_part is not None:
            self._on_part(self._part)

    def _close_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        """Drop every part and its spool file (idempotent)."""
        self._close_file()
        for part in self.parts:
            part.discard()


_BOUNDARY_MAX = 200


def _usable_boundary(boundary: bytes) -> bool:
    """RFC 2046 §5.1.1 allows 1-70 characters of a small set; real peers exceed it (Orthanc's
    DICOMweb client joins two UUIDs: 73 characters), so accept up to 200 printable ASCII
    characters, not ending in a space (which the grammar forbids and a header parser strips)."""
    return (
        0 < len(boundary) <= _BOUNDARY_MAX
        and all(0x20 <= byte <= 0x7E for byte in boundary)
        and not boundary.endswith(b" ")
    )


class _Splitter:
    """Splits a multipart body fed in chunks into parts (RFC 2046 §5.1.1), finding delimiters
    with ``bytes.find``: the bytes between them are never looked at in Python, so a 500 KB
    instance costs a handful of calls (python-multipart's state machine cost ~8% of STOW-RS
    ingest, measured). Chunks are scanned where they are; only what a step cannot consume yet
    (a tail that may start a delimiter, headers cut by the chunk's end) is buffered."""

    def __init__(self, boundary: str, receiver: _Receiver) -> None:
        encoded = boundary.encode("latin-1")
        if not _usable_boundary(encoded):
            raise BadRequest(f"unusable multipart boundary {boundary[:80]!r}")
        self._first = b"--" + encoded  # the body may open with a delimiter, no CRLF before it
        self._delimiter = b"\r\n--" + encoded
        self._receiver = receiver
        self._buffer = bytearray()
        self._state = _PREAMBLE
        self._at_start = True

    @property
    def complete(self) -> bool:
        return self._state is _END

    def feed(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            if self._state is _DATA and len(chunk) >= len(self._delimiter):
                # The common case, a chunk of part data: the buffer holds at most the tail held
                # back from the previous chunk, and the chunk itself is never copied.
                self._run(chunk, self._flush_tail(chunk))
            elif self._buffer:
                self._buffer += chunk
                self._run(self._buffer, 0)
            else:
                self._run(chunk, 0)

    def _run(self, data: bytes | bytearray, at: int) -> None:
        """Run the state machine over ``data`` from ``at``; keep what it could not consume."""
        done = at
        position: int | None = at
        while position is not None:
            done = position
            position = self._step(data, position)
        if data is self._buffer:
            del self._buffer[:done]
        else:
            self._buffer += memoryview(data)[done:]

    def _flush_tail(self, chunk: bytes) -> int:
        """Settle the held-back tail against the start of ``chunk``; where to go on in it."""
        tail = bytes(self._buffer)
        self._buffer.clear()
        if not tail:
            return 0
        # A delimiter that starts in the tail ends within the chunk's first bytes.
        found = (tail + chunk[: len(self._delimiter) - 1]).find(self._delimiter)
        if found < 0:
            self._receiver.data(memoryview(tail))
            return 0
        self._close_part(memoryview(tail)[:found])
        return found + len(self._delimiter) - len(tail)

    def _close_part(self, data: memoryview) -> None:
        if data:
            self._receiver.data(data)
        self._receiver.end()
        self._state = _AFTER_DELIMITER

    def _step(self, buffer: bytes | bytearray, at: int) -> int | None:
        """One step of the state machine from ``at``: the position after what it consumed, or
        None when it needs more bytes."""
        state = self._state
        if state is _DATA:
            return self._data(buffer, at)
        if state is _PREAMBLE:
            return self._preamble(buffer, at)
        if state is _AFTER_DELIMITER:
            return self._after_delimiter(buffer, at)
        if state is _HEADERS:
            return self._headers(buffer, at)
        return None  # _END: the epilogue is ignored

    def _preamble(self, buffer: bytes | bytearray, at: int) -> int | None:
        if self._at_start:
            if len(buffer) < len(self._first):
                return None
            self._at_start = False
            if buffer.startswith(self._first):
                self._state = _AFTER_DELIMITER
                return len(self._first)
        found = buffer.find(self._delimiter, at)
        if found >= 0:
            self._state = _AFTER_DELIMITER
            return found + len(self._delimiter)
        keep_from = len(buffer) - len(self._delimiter) + 1  # what could start a delimiter
        return keep_from if keep_from > at else None

    def _after_delimiter(self, buffer: bytes | bytearray, at: int) -> int | None:
        if len(buffer) - at < 2:
            return None
        if buffer[at : at + 2] == b"--":
            self._state = _END
            return None
        eol = buffer.find(b"\r\n", at)
        if eol < 0:
            if len(buffer) - at > _MAX_HEADERS:
                raise _malformed("a boundary is followed by text instead of a line break")
            return None
        if buffer[at:eol].strip(b" \t"):
            raise _malformed("a boundary is followed by text instead of a line break")
        self._state = _HEADERS
        return eol + 2

    def _headers(self, buffer: bytes | bytearray, at: int) -> int | None:
        if buffer.startswith(b"\r\n", at):
            end, headers = at, {}
        else:
            end = buffer.find(b"\r\n\r\n", at)
            if end < 0:
                if len(buffer) - at > _MAX_HEADERS:
                    raise _malformed(f"part headers longer than {_MAX_HEADERS} bytes")
                return None
            headers = _parse_headers(bytes(buffer[at:end]))
            end += 2
        self._receiver.begin(headers)
        self._state = _DATA
        return end + 2

    def _data(self, buffer: bytes | bytearray, at: int) -> int | None:
        found = buffer.find(self._delimiter, at)
        # Without a delimiter, hold back what could be the start of one.
        stop = found if found >= 0 else max(at, len(buffer) - len(self._delimiter) + 1)
        if found < 0 and stop == at:
            return None
        with memoryview(buffer) as view, view[at:stop] as data:
            if found < 0:
                self._receiver.data(data)
                return stop
            self._close_part(data)
        return found + len(self._delimiter)


_PREAMBLE, _AFTER_DELIMITER, _HEADERS, _DATA, _END = (object() for _ in range(5))
_MAX_HEADERS = 16 * 1024


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _malformed(f"a part header line is not 'name: value': {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _malformed(reason: str) -> BadRequest:
    return BadRequest(f"malformed multipart/related body: {reason}")


async def _feed(splitter: _Splitter, request: Request) -> None:
    batch: list[bytes] = []
    pending = 0
    try:
        async for chunk in request.stream():
            batch.append(chunk)
            pending += len(chunk)
            if pending >= _BATCH:
                await run_in_threadpool(splitter.feed, batch)
                batch, pending = [], 0
        if batch:
            await run_in_threadpool(splitter.feed, batch)
    except ClientDisconnect as exc:
        raise BadRequest("the client disconnected before the end of the request body") from exc
    except OSError as exc:  # the spool directory is full or gone
        raise OutOfResources(f"cannot spool the request body: {exc.strerror}") from exc
    if not splitter.complete:
        raise _malformed(
            "it ends without the closing delimiter '--<boundary>--' (is the boundary "
            "parameter right?)"
        )


@asynccontextmanager
async def read_parts(
    request: Request,
    boundary: str,
    spool_dir: Path,
    max_part_bytes: int,
    on_part: Callable[[Part], None] | None = None,
) -> AsyncIterator[list[Part]]:
    """Read the whole body into parts; on exit every part's spool file is removed (a caller
    that wants one takes it: ``Part.take_file``). ``on_part`` is called with each part as soon
    as it is complete, while the rest of the body still arrives (in a worker thread).

    Raises BadRequest for a malformed body (garbage, missing closing delimiter, no part at all)
    and PayloadTooLarge when one part exceeds ``max_part_bytes``.
    """
    receiver = _Receiver(spool_dir, max_part_bytes, on_part)
    splitter = _Splitter(boundary, receiver)
    try:
        await _feed(splitter, request)
        if not receiver.parts:
            raise BadRequest("the multipart/related body holds no part")
        yield receiver.parts
    finally:
        receiver.close()
