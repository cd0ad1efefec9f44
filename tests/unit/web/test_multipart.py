"""The streaming multipart/related reader: parts, headers, spooling, limits and cleanup."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from openvna.errors import BadRequest, PayloadTooLarge
from openvna.web.multipart import MEMORY_LIMIT, Part, parse_content_type, read_parts
from tests.asyncrun import run_async

BOUNDARY = "b0undary"


def _request(chunks: Iterable[bytes], disconnect: bool = False) -> Request:
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or disconnect}
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    return Request(scope, receive)


def _body(
    *parts: tuple[dict[str, str], bytes], close: bool = True, boundary: str = BOUNDARY
) -> bytes:
    out = b""
    for headers, data in parts:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        out += f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _read(
    chunks: Iterable[bytes],
    spool: Path,
    limit: int = 1 << 30,
    boundary: str = BOUNDARY,
    **kw: Any,
) -> list[Any]:
    """Read the parts and return (headers, bytes, spooled?) while the context is open."""

    async def run() -> list[Any]:
        async with read_parts(_request(chunks, **kw), boundary, spool, limit) as parts:
            return [(p.headers, p.read_bytes(), p.path is not None) for p in parts]

    return run_async(run())


def test_parts_keep_their_headers_and_bytes_across_chunk_borders(tmp_path: Path) -> None:
    first = bytes(range(256)) * 10 + b"\r\n--b0und"  # looks like a boundary, is not one
    body = _body(
        ({"Content-Type": "application/dicom+xml", "Content-Location": "meta"}, b"<x/>"),
        ({"content-type": "image/jpeg", "Content-ID": "<px@x>"}, first),
    )
    for size in (1, 7, 64, len(body)):
        parts = _read(_split(body, size), tmp_path)
        assert [data for _, data, _ in parts] == [b"<x/>", first]
        assert parts[0][0] == {"content-type": "application/dicom+xml", "content-location": "meta"}
        assert parts[1][0]["content-id"] == "<px@x>"
    assert list(tmp_path.iterdir()) == []


def test_large_parts_spool_to_files_that_are_removed_on_exit(tmp_path: Path) -> None:
    big = b"\x01" * (MEMORY_LIMIT * 3 + 5)
    body = _body(({"Content-Type": "application/dicom"}, big), ({}, b"small"))

    async def run() -> None:
        async with read_parts(_request(_split(body, 65536)), BOUNDARY, tmp_path, 1 << 30) as parts:
            assert parts[0].path is not None and parts[0].path.parent == tmp_path
            assert parts[0].read_bytes() == big and parts[0].size == len(big)
            assert parts[1].path is None and parts[1].read_bytes() == b"small"
            assert parts[1].content_type == ""
            taken = parts[1].take_file(tmp_path)
            assert taken.read_bytes() == b"small"
            taken.unlink()
        assert list(tmp_path.iterdir()) == []

    run_async(run())


def test_part_properties_strip_parameters_and_brackets() -> None:
    part = Part(
        headers={
            "content-type": 'Application/DICOM+JSON; transfer-syntax="1.2"',
            "content-id": " <abc@host> ",
            "content-location": "http://x/bulk/1",
        }
    )
    assert part.content_type == "application/dicom+json"
    assert part.content_id == "abc@host"
    assert part.content_location == "http://x/bulk/1"


def test_parse_content_type_lowercases_names_and_unquotes() -> None:
    media, params = parse_content_type('Multipart/Related; TYPE="application/dicom"; boundary=x')
    assert media == "multipart/related"
    assert params == {"type": "application/dicom", "boundary": "x"}


def test_every_chunking_gives_the_same_parts(tmp_path: Path) -> None:
    """Parts whose data holds near-delimiters, fed in chunks of every size around the
    delimiter's length (the splitter's copy-free path starts there) and larger."""
    near = [b"\r\n--b0undar", b"\r\n-", b"\r", b"--b0undary", b"\r\n--b0undarx"]
    datas = [
        b"".join(near[(i + j) % len(near)] + bytes([i * 7 + j]) for j in range(9)) for i in range(4)
    ]
    datas.append(b"")
    body = _body(*[({"Content-Type": f"a/{n}"}, data) for n, data in enumerate(datas)])
    expected = [({"content-type": f"a/{n}"}, data) for n, data in enumerate(datas)]
    for size in [*range(1, 40), 100, 1000, len(body)]:
        parts = _read(_split(body, size), tmp_path)
        assert [(headers, data) for headers, data, _ in parts] == expected, size


def test_preamble_padding_and_epilogue_are_skipped(tmp_path: Path) -> None:
    """RFC 2046 §5.1.1: text before the first delimiter and after the close delimiter is
    ignored, and a delimiter line may end with spaces or tabs (transport padding)."""
    body = (
        f"preamble --{BOUNDARY} is not a delimiter here\r\n--{BOUNDARY} \t\r\n"
        f"Content-Type: a/b\r\n\r\none\r\n--{BOUNDARY}\r\n\r\ntwo\r\n--{BOUNDARY}--"
        "\r\nepilogue"
    ).encode()
    for size in (1, 5, len(body)):
        parts = _read(_split(body, size), tmp_path)
        assert [(headers, data) for headers, data, _ in parts] == [
            ({"content-type": "a/b"}, b"one"),
            ({}, b"two"),
        ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_body(({}, b"data"), close=False), "closing delimiter"),
        (b"garbage without any boundary", "malformed"),
        (f"--{BOUNDARY}--\r\n".encode(), "no part"),
        (b"--other\r\n\r\ndata\r\n--other--", "malformed"),
        (f"--{BOUNDARY}\r\nno colon\r\n\r\nx\r\n--{BOUNDARY}--".encode(), "name: value"),
        (f"--{BOUNDARY}junk\r\n\r\nx\r\n--{BOUNDARY}--".encode(), "instead of a line"),
    ],
)
def test_malformed_bodies_are_bad_requests(tmp_path: Path, body: bytes, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        _read([body], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_boundary_longer_than_rfc_2046_allows_is_accepted_as_real_peers_send_it(
    tmp_path: Path,
) -> None:
    # Orthanc's DICOMweb client: two UUIDs joined by "-", 73 characters.
    boundary = "4b6bd5a2-8b4c-4c55-9e0e-4b1a54c0a6f1-0f2b8a8e-2c1d-4e4c-a7a3-0d6f5e2b9c11"
    body = _body(({"Content-Type": "application/dicom"}, b"DICM"), boundary=boundary)
    assert len(boundary) == 73
    assert _read(_split(body, 13), tmp_path, boundary=boundary)[0][1] == b"DICM"


@pytest.mark.parametrize(
    "boundary",
    ["", "x" * 201, "a\r\nb", "a\nb", "trailing ", "caf\u00e9", "tab\there"],
    ids=["empty", "201-characters", "crlf", "lf", "trailing-space", "non-ascii", "tab"],
)
def test_an_unusable_boundary_is_a_bad_request(tmp_path: Path, boundary: str) -> None:
    async def run() -> None:
        async with read_parts(_request([b""]), boundary, tmp_path, 1 << 30):
            pass

    with pytest.raises(BadRequest, match="unusable multipart boundary"):
        run_async(run())


def test_a_part_over_the_limit_is_payload_too_large(tmp_path: Path) -> None:
    body = _body(({}, b"x" * 10), ({}, b"y" * (MEMORY_LIMIT * 2)))
    with pytest.raises(PayloadTooLarge, match=r"part 2 .* 100000 bytes"):
        _read(_split(body, 4096), tmp_path, limit=100_000)
    assert list(tmp_path.iterdir()) == []


def test_a_client_that_goes_away_leaves_no_spool_file(tmp_path: Path) -> None:
    body = _body(({}, b"z" * (MEMORY_LIMIT * 4)), close=False)
    with pytest.raises(BadRequest, match="disconnected"):
        _read(_split(body, 65536)[:-2], tmp_path, disconnect=True)
    assert list(tmp_path.iterdir()) == []


def test_many_small_parts_spool_beyond_the_memory_budget(tmp_path: Path) -> None:
    small = b"s" * (MEMORY_LIMIT - 10)
    body = _body(*[({}, small)] * 64)  # 16 MB in parts that each fit in memory
    parts = _read(_split(body, 1 << 20), tmp_path)
    assert all(data == small for _, data, _ in parts)
    spooled = [spooled for _, _, spooled in parts]
    assert not spooled[0] and spooled[-1]
