"""The benchmark client's multipart part counter: the count it checks every retrieve against."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.client import CHUNK, CheckError, count_parts

BOUNDARY = b"6b1fe0c2d1"


def _part(body: bytes, length: bool = True, padding: bytes = b"") -> bytes:
    head = b"--" + BOUNDARY + padding + b"\r\nContent-Type: application/dicom\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def _body(*parts: bytes, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    close = b"--" + BOUNDARY + b"--\r\n"
    return preamble + b"".join(part + b"\r\n" for part in parts) + close + epilogue


def _reader(data: bytes, step: int) -> Callable[[memoryview], int]:
    """A readinto that hands out at most ``step`` bytes a call, like a socket."""
    pos = 0

    def readinto(into: memoryview) -> int:
        nonlocal pos
        n = min(step, len(into), len(data) - pos)
        into[:n] = data[pos : pos + n]
        pos += n
        return n

    return readinto


# A body that holds the delimiter's bytes less one, and a CRLF, so a sloppy search would stumble.
TRICKY = b"\r\n--" + BOUNDARY[:-1] + b"\r\n\r\n" + bytes(range(256)) * 3


@pytest.mark.parametrize("step", [*range(1, 40), 97, 1000, CHUNK])
@pytest.mark.parametrize("length", [True, False], ids=["content-length", "searched"])
def test_counts_parts_in_any_chunking(step: int, length: bool) -> None:
    body = _body(
        _part(TRICKY, length),
        _part(b"", length),
        _part(b"x" * 5000, length, padding=b" \t"),
        preamble=b"a preamble\r\n",
        epilogue=b"an epilogue",
    )
    assert count_parts(_reader(body, step), BOUNDARY) == (len(body), 3)


def test_parts_with_and_without_length_mix() -> None:
    body = _body(_part(TRICKY), _part(TRICKY, length=False), _part(b"abc"))
    assert count_parts(_reader(body, 64), BOUNDARY) == (len(body), 3)


def test_a_body_without_parts_counts_none() -> None:
    body = _body()
    assert count_parts(_reader(body, 7), BOUNDARY) == (len(body), 0)


def test_a_content_length_that_disagrees_with_the_body_is_an_error() -> None:
    short = _part(b"0123456789").replace(b"Content-Length: 10", b"Content-Length: 9")
    with pytest.raises(CheckError, match="not followed by the boundary"):
        count_parts(_reader(_body(short), 4096), BOUNDARY)


def test_a_body_cut_short_is_an_error() -> None:
    body = _body(_part(b"abc"), _part(b"def"))
    with pytest.raises(CheckError, match="without a close delimiter"):
        count_parts(_reader(body[:-20], 4096), BOUNDARY)


def test_a_header_block_without_end_is_an_error() -> None:
    body = b"--" + BOUNDARY + b"\r\nContent-Type: x" + b"y" * (CHUNK + 100_000)
    with pytest.raises(CheckError, match="no end to its header block"):
        count_parts(_reader(body, CHUNK), BOUNDARY)
