"""The streaming multipart/related writer: framing, lengths, thread hops, blob spans."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import Any

import pytest
from python_multipart import MultipartParser

from openvna.archive import Content
from openvna.errors import ArchiveError
from openvna.storage.filesystem import FilesystemBlobStore
from openvna.storage.memory import MemoryBlobStore
from openvna.web import multipart_out
from openvna.web.multipart_out import (
    READ_LIMIT,
    BlobResponse,
    MultipartBody,
    ResponsePart,
    multipart_response,
    single_part_response,
)
from openvna.web.sendfiles import SENDFILES, SendFile
from tests.asyncrun import run_async


def _collect(body: AsyncIterable[bytes | memoryview]) -> tuple[bytes, list[int]]:
    """The body and its message sizes; every message must be ``bytes`` (granian sends a
    memoryview 20x slower)."""

    async def run() -> tuple[bytes, list[int]]:
        chunks = [chunk async for chunk in body]
        assert all(type(chunk) is bytes for chunk in chunks)
        return b"".join(chunks), [len(c) for c in chunks]

    return run_async(run())


def _parse(data: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """Split with a real parser (python-multipart), as a client would."""
    parts: list[tuple[dict[str, str], bytes]] = []
    state: dict[str, Any] = {}

    def on_part_begin() -> None:
        state.update(headers={}, data=bytearray())

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        state["field"] = buf[start:end].decode().lower()

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        state["headers"][state["field"]] = buf[start:end].decode()

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        state["data"] += buf[start:end]

    def on_part_end() -> None:
        parts.append((state["headers"], bytes(state["data"])))

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)
    parser.write(data)
    parser.finalize()
    return parts


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path)


def test_parts_round_trip_through_a_real_parser(store: FilesystemBlobStore) -> None:
    first, second = os.urandom(READ_LIMIT + 17), b"\r\n--not-a-boundary\r\n\r\n"
    store.put_bytes("s/se/a.dcm", first)
    parts = [
        ResponsePart(
            "application/dicom; transfer-syntax=1.2.840.10008.1.2.1",
            Content(store, "s/se/a.dcm", len(first)),
            "http://x/a",
        ),
        ResponsePart("application/dicom+xml", second),
    ]
    body = MultipartBody(parts)
    data, sizes = _collect(body)
    assert len(data) == body.content_length
    assert max(sizes) <= READ_LIMIT
    parsed = _parse(data, body.boundary)
    assert [p[1] for p in parsed] == [first, second]
    assert parsed[0][0] == {
        "content-type": "application/dicom; transfer-syntax=1.2.840.10008.1.2.1",
        "content-location": "http://x/a",
        "content-length": str(len(first)),
    }
    assert "content-location" not in parsed[1][0]
    assert data.endswith(f"\r\n--{body.boundary}--\r\n".encode())


def test_empty_body_is_just_the_close_delimiter(store: FilesystemBlobStore) -> None:
    body = MultipartBody([], boundary="b0")
    data, _ = _collect(body)
    assert data == b"--b0--\r\n"
    assert body.content_length == len(data)


def test_spans_are_concatenated_in_order() -> None:
    store = MemoryBlobStore()
    store.put_bytes("k", bytes(range(100)))
    blob = Content(store, "k", 13, ((50, 10), (5, 3)))
    data, _ = _collect(MultipartBody([ResponsePart("image/jpeg", blob)], boundary="b"))
    assert _parse(data, "b")[0][1] == bytes(range(50, 60)) + bytes(range(5, 8))


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hops: list[str] = []
    real: Callable[..., Any] = multipart_out.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any) -> Any:
        hops.append(getattr(func, "__name__", "?"))
        return await real(func, *args)

    monkeypatch.setattr(multipart_out.to_thread, "run_sync", counting)
    return hops


def test_small_blobs_share_thread_hops(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = _count_hops(monkeypatch)
    size = READ_LIMIT // 4
    parts = []
    for n in range(5):
        store.put_bytes(f"k{n}", os.urandom(size - n))
        parts.append(ResponsePart("application/dicom", Content(store, f"k{n}", size - n)))
    parts.insert(2, ResponsePart("application/dicom+xml", b"<x/>"))
    data, sizes = _collect(MultipartBody(parts, boundary="b"))
    assert hops == ["_read_many"] * 2
    assert [p[1] for p in _parse(data, "b")] == [
        store.read_range(f"k{n}", 0, size - n) for n in range(2)
    ] + [b"<x/>"] + [store.read_range(f"k{n}", 0, size - n) for n in range(2, 5)]
    assert [size - n for n in range(5)] == [s for s in sizes if s > 100]


def test_large_blob_is_read_piecewise_one_hop_each(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multipart_out, "READ_LIMIT", 1 << 20)
    hops = _count_hops(monkeypatch)
    content = os.urandom(3 * (1 << 20) + 5)
    store.put_bytes("big", content)
    data, _ = _collect(
        MultipartBody([ResponsePart("a/b", Content(store, "big", len(content)))], "b")
    )
    assert _parse(data, "b")[0][1] == content
    assert hops == ["open"] + ["read_at"] * 4


def test_short_blob_aborts_the_stream(store: FilesystemBlobStore) -> None:
    store.put_bytes("short", b"1234")
    with pytest.raises(ArchiveError, match="holds 4 bytes where the index says 10"):
        _collect(MultipartBody([ResponsePart("a/b", Content(store, "short", 10))]))


def test_short_large_blob_aborts_the_stream(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multipart_out, "READ_LIMIT", 5)
    store.put_bytes("short", b"123456")
    with pytest.raises(ArchiveError, match="'short' holds 6 bytes where the index says 10"):
        _collect(MultipartBody([ResponsePart("a/b", Content(store, "short", 10))]))


def test_multipart_response_headers(store: FilesystemBlobStore) -> None:
    store.put_bytes("k", b"abc")
    response = multipart_response(
        [ResponsePart("application/dicom", Content(store, "k", 3))], "application/dicom"
    )
    content_type = response.headers["content-type"]
    assert content_type.startswith('multipart/related; type="application/dicom"; boundary=')
    boundary = content_type.rsplit("=", 1)[1]
    data, _ = _collect(response.body_iterator)
    assert int(response.headers["content-length"]) == len(data)
    assert _parse(data, boundary)[0][1] == b"abc"


def test_single_part_response_streams_the_body(store: FilesystemBlobStore) -> None:
    store.put_bytes("k", b"abcdef")
    part = ResponsePart(
        "application/octet-stream", Content(store, "k", 3, ((1, 3),)), "http://x/bulk"
    )
    response = single_part_response(part)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == "3"
    assert response.headers["content-location"] == "http://x/bulk"
    assert _collect(response.body_iterator)[0] == b"bcd"
    in_memory = single_part_response(ResponsePart("text/plain", b"xyz"))
    assert _collect(in_memory.body_iterator)[0] == b"xyz"


def _send_zero_copy(response: BlobResponse) -> tuple[bytes, list[str], list[SendFile]]:
    """Run the response on a fake server offering sendfiles: (body, message types, files)."""
    chunks: list[bytes] = []
    kinds: list[str] = []
    files: list[SendFile] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        kinds.append(message["type"])
        if message["type"] == SENDFILES:
            for item in message["items"]:
                if isinstance(item, bytes):
                    chunks.append(item)
                    continue
                files.append(item)
                data = Path(item.path).read_bytes()
                chunks.extend(data[offset : offset + count] for offset, count in item.ranges)
        elif message["type"] == "http.response.body":
            chunks.append(message["body"])

    scope = {"type": "http", "method": "GET", "extensions": {SENDFILES: {}}}
    run_async(response(scope, receive, send))
    return b"".join(chunks), kinds, files


def test_zero_copy_hands_the_whole_body_over_in_one_message(
    store: FilesystemBlobStore,
) -> None:
    parts = []
    for n in range(40):
        store.put_bytes(f"k{n}", os.urandom(100 + n))
        parts.append(
            ResponsePart("application/dicom", Content(store, f"k{n}", 100 + n), f"http://x/{n}")
        )
    store.put_bytes("frames", bytes(range(256)))
    parts.append(
        ResponsePart("application/octet-stream", Content(store, "frames", 7, ((200, 5), (3, 2))))
    )
    parts.append(ResponsePart("application/json", b"{}"))
    response = multipart_response(parts, "application/dicom")
    body, kinds, files = _send_zero_copy(response)
    boundary = response.headers["content-type"].rsplit("=", 1)[1]
    copied, _ = _collect(MultipartBody(parts, boundary))
    assert body == copied
    assert len(body) == int(response.headers["content-length"])
    assert kinds == ["http.response.start", SENDFILES]
    # Whole blobs must be exactly the size the index says; spans need only fit in the file.
    assert [file.size for file in files] == [100 + n for n in range(40)] + [None]
    assert files[0].path == str(store.path("k0"))


def test_zero_copy_single_part_and_its_fallbacks(store: FilesystemBlobStore) -> None:
    store.put_bytes("k", b"abcdef")
    part = ResponsePart("application/dicom", Content(store, "k", 6))
    body, kinds, files = _send_zero_copy(single_part_response(part))
    assert (body, kinds.count(SENDFILES), files[0].size) == (b"abcdef", 1, 6)
    memory = MemoryBlobStore()
    memory.put_bytes("k", b"abcdef")
    in_memory = ResponsePart("application/dicom", Content(memory, "k", 6))
    body, kinds, _ = _send_zero_copy(single_part_response(in_memory))
    assert (body, kinds.count(SENDFILES)) == (b"abcdef", 0)
