"""Streaming multipart/related request bodies (RFC 2387; PS3.18 §8.6.1.2 for STOW-RS).

The body is fed chunk by chunk from ``request.stream()`` to python-multipart's low-level
``MultipartParser``. Each part stays in memory while small and goes to a file in the blob store's
spool directory once it grows (or once the small parts together pass a budget), so memory stays
flat whatever the body size (DESIGN.md, "Measured limits": the library parser keeps up with the
server's body delivery). Chunks are gathered to about 1 MB and parsed in a worker thread, one
thread hop per megabyte, so that file writes never block the event loop.

``read_parts`` is an async context manager: every spool file it made is removed on exit, whether
the parts were stored (the archive then has moved the files away), refused, or the client went
away in the middle of the body.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
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
    """The parser's callbacks: collects headers, routes data to memory or a spool file."""

    def __init__(self, boundary: str, spool_dir: Path, max_part_bytes: int) -> None:
        self.parts: list[Part] = []
        self._spool_dir = spool_dir
        self._max_part_bytes = max_part_bytes
        self._in_memory = 0
        self._part = Part()
        self._handle: BinaryIO | None = None
        self._name = bytearray()
        self._value = bytearray()
        self.parser = MultipartParser(
            boundary.encode("latin-1"),
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    def _begin(self) -> None:
        self._part = Part()
        self.parts.append(self._part)

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name = self._name.decode("latin-1").strip().lower()
        self._part.headers[name] = self._value.decode("latin-1").strip()
        self._name, self._value = bytearray(), bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.size += end - start
        if part.size > self._max_part_bytes:
            raise PayloadTooLarge(
                f"part {len(self.parts)} of the request exceeds the limit of "
                f"{self._max_part_bytes} bytes (settings dicomweb.max_part_bytes)"
            )
        if self._handle is None and (
            part.size > MEMORY_LIMIT or self._in_memory + end - start > _MEMORY_BUDGET
        ):
            fd, name = tempfile.mkstemp(dir=self._spool_dir, prefix="stow-", suffix=".part")
            part.path = Path(name)
            self._handle = os.fdopen(fd, "wb", buffering=_BATCH)
            self._handle.write(part._memory)
            self._in_memory -= len(part._memory)
            part._memory = bytearray()
        if self._handle is not None:
            self._handle.write(memoryview(data)[start:end])
        else:
            part._memory += memoryview(data)[start:end]
            self._in_memory += end - start

    def _end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        """Drop every part and its spool file (idempotent)."""
        self._end()
        for part in self.parts:
            part.discard()


async def _feed(receiver: _Receiver, request: Request) -> None:
    batch: list[bytes] = []
    pending = 0
    try:
        async for chunk in request.stream():
            batch.append(chunk)
            pending += len(chunk)
            if pending >= _BATCH:
                await run_in_threadpool(receiver.parser.write, b"".join(batch))
                batch, pending = [], 0
        if batch:
            await run_in_threadpool(receiver.parser.write, b"".join(batch))
    except MultipartParseError as exc:
        raise BadRequest(f"malformed multipart/related body: {exc}") from exc
    except ClientDisconnect as exc:
        raise BadRequest("the client disconnected before the end of the request body") from exc
    except OSError as exc:  # the spool directory is full or gone
        raise OutOfResources(f"cannot spool the request body: {exc.strerror}") from exc
    if receiver.parser.state != MultipartState.END:
        raise BadRequest(
            "malformed multipart/related body: it ends without the closing delimiter "
            "'--<boundary>--' (is the boundary parameter right?)"
        )


@asynccontextmanager
async def read_parts(
    request: Request, boundary: str, spool_dir: Path, max_part_bytes: int
) -> AsyncIterator[list[Part]]:
    """Read the whole body into parts; on exit every part's spool file is removed.

    Raises BadRequest for a malformed body (garbage, missing closing delimiter, no part at all)
    and PayloadTooLarge when one part exceeds ``max_part_bytes``.
    """
    try:
        receiver = _Receiver(boundary, spool_dir, max_part_bytes)
    except ValueError as exc:  # python-multipart's FormParserError (boundary too long)
        raise BadRequest(f"unusable multipart boundary {boundary[:80]!r}: {exc}") from exc
    try:
        await _feed(receiver, request)
        if not receiver.parts:
            raise BadRequest("the multipart/related body holds no part")
        yield receiver.parts
    finally:
        receiver.close()
