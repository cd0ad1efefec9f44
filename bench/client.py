"""A small DICOMweb client on http.client: keep-alive connections, 1 MB reads, multipart counting.

http.client is used rather than httpx because the client shares two cores with the servers: it
reads a retrieve response in 1 MB ``readinto`` calls and counts multipart parts (PS3.18 8.6.1.2,
RFC 2046 5.1.1) by following each part's Content-Length, searching for the boundary delimiter in
C only where a part gives none, so the client costs the same, and little, for every server.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.servers import Server

DICOM_JSON = "application/dicom+json"
STUDY_PARTS = 'multipart/related; type="application/dicom"'
FRAME_PARTS = 'multipart/related; type="application/octet-stream"'
CHUNK = 1 << 20


class CheckError(AssertionError):
    """An answer did not match what was sent: a fast wrong answer is an error, not a win."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    seconds: float


@dataclass(frozen=True)
class Streamed:
    status: int
    nbytes: int
    parts: int
    seconds: float


def get(conn: http.client.HTTPConnection, path: str, accept: str) -> Answer:
    """One GET, body read whole; ``seconds`` runs from sending to the last byte."""
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept})
    response = conn.getresponse()
    body = response.read()
    seconds = time.perf_counter() - start
    return Answer(response.status, response.getheader("Content-Type", ""), body, seconds)


def boundary_of(content_type: str) -> bytes:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip('"').encode()
    raise CheckError(f"no boundary in multipart Content-Type {content_type!r}")


def stream_parts(conn: http.client.HTTPConnection, path: str, accept: str) -> Streamed:
    """GET a multipart response, counting parts and bytes without keeping the body."""
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept})
    response = conn.getresponse()
    if response.status != 200:
        response.read()
        return Streamed(response.status, 0, 0, time.perf_counter() - start)
    nbytes, parts = count_parts(
        response.readinto, boundary_of(response.getheader("Content-Type", ""))
    )
    return Streamed(200, nbytes, parts, time.perf_counter() - start)


def count_parts(readinto: Callable[[memoryview], int], boundary: bytes) -> tuple[int, int]:
    """Read a multipart body to its end with ``readinto``; its size and number of parts."""
    buffer = bytearray(CHUNK + _HEAD_LIMIT)
    view = memoryview(buffer)
    parts = PartCounter(boundary)
    # The body is read as if a CRLF preceded it, so that a first delimiter opening the body
    # matches the CRLF-led delimiter like every later one (RFC 2046 5.1.1).
    buffer[:2] = b"\r\n"
    kept, nbytes = 2, 0
    while n := readinto(view[kept : kept + CHUNK]):
        nbytes += n
        filled = kept + n
        used = parts.feed(buffer, filled)
        kept = filled - used
        buffer[:kept] = bytes(view[used:filled])
    return nbytes, parts.finish()


# How many bytes a delimiter line and a part's header block may take before the body is called
# malformed (each part's headers are a few hundred bytes).
_HEAD_LIMIT = 64 * 1024


class PartCounter:
    """Counts the parts of a multipart body fed to it in buffers, checking its structure.

    A part that gives its Content-Length (openvna's and Orthanc's parts do) is skipped by that
    count, and the next delimiter must follow it exactly; only a part without one is searched
    for its closing delimiter. Searching every byte for the delimiter cost this client ~20 ms
    of CPU per 263 MB study, about as much as the kernel's copy of it, so the client rather than
    the fastest server set the pace of a whole-study retrieve.
    """

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.parts = 0
        self._skip = 0
        self._state = "search"  # the preamble, or a part without Content-Length
        self._closed = False

    def feed(self, data: bytearray, filled: int) -> int:
        """Take ``data[:filled]``; return how many bytes were used. The caller keeps the rest
        and passes it again at the front of the next call."""
        pos = 0
        delimiter = self.delimiter
        while pos < filled and not self._closed:
            if self._state == "skip":
                step = min(self._skip, filled - pos)
                self._skip -= step
                pos += step
                if not self._skip:
                    self._state = "delimiter"
            elif self._state == "search":
                found = data.find(delimiter, pos, filled)
                if found < 0:  # keep what may be the start of a delimiter
                    return max(pos, filled - len(delimiter) + 1)
                pos, self._state = found, "delimiter"
            else:
                used = self._delimiter_and_headers(data, pos, filled)
                if used is None:
                    if filled - pos > _HEAD_LIMIT:
                        raise CheckError(f"part {self.parts + 1}: no end to its header block")
                    return pos
                pos = used
        return filled if self._closed else pos

    def _delimiter_and_headers(self, data: bytearray, pos: int, filled: int) -> int | None:
        """At a delimiter: read it and, unless it closes the body, the next part's headers;
        None when ``data`` does not hold all of them yet."""
        after = pos + len(self.delimiter)
        if filled - after < 2:
            return None
        if data[pos:after] != self.delimiter:
            raise CheckError(
                f"part {self.parts}: its Content-Length is not followed by the boundary delimiter"
            )
        if data[after : after + 2] == b"--":
            self._closed = True
            return filled
        end = data.find(b"\r\n\r\n", after, filled)
        if end < 0:
            return None
        self.parts += 1
        length = None
        for line in bytes(data[after:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            self._state = "search"
        else:
            self._skip, self._state = length, "skip" if length else "delimiter"
        return end + 4

    def finish(self) -> int:
        """The number of parts, once the whole body was fed."""
        if not self._closed:
            raise CheckError(f"the body ended after {self.parts} parts without a close delimiter")
        return self.parts


def multipart(paths: Iterable[Path]) -> tuple[bytes, str]:
    """A STOW-RS request body (PS3.18 10.5.1.1): one application/dicom part per file."""
    boundary = secrets.token_hex(16)
    chunks: list[bytes] = []
    for path in paths:
        chunks += [
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
            path.read_bytes(),
            b"\r\n",
        ]
    chunks.append(f"--{boundary}--\r\n".encode())
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    return b"".join(chunks), content_type


def stow(server: Server, conn: http.client.HTTPConnection, paths: list[Path]) -> None:
    """STOW-RS to /studies; the answer must reference every instance sent and fail none."""
    body, content_type = multipart(paths)
    conn.request(
        "POST",
        f"{server.dicomweb_path}/studies",
        body=body,
        headers={"Content-Type": content_type, "Accept": DICOM_JSON},
    )
    response = conn.getresponse()
    text = response.read()
    if response.status != 200:
        raise CheckError(f"{server.name} STOW-RS answered {response.status}: {text[:300]!r}")
    answer = json.loads(text)
    referenced = answer.get("00081199", {}).get("Value", [])
    failed = answer.get("00081198", {}).get("Value", [])
    if len(referenced) != len(paths) or failed:
        raise CheckError(
            f"{server.name} STOW-RS stored {len(referenced)} of {len(paths)} "
            f"instances, {len(failed)} failed"
        )


def qido(
    conn: http.client.HTTPConnection, server: Server, level: str, params: dict[str, str]
) -> tuple[list[dict], float]:
    """A QIDO-RS search; returns the JSON results (none for 204) and the latency."""
    # '*' and '^' stay literal: Orthanc 1.10 does not percent-decode them in query strings.
    query = urlencode(params, safe="*^")
    answer = get(conn, f"{server.dicomweb_path}/{level}?{query}", DICOM_JSON)
    if answer.status == 204:
        return [], answer.seconds
    if answer.status != 200:
        raise CheckError(
            f"{server.name} QIDO {level} {params} answered {answer.status}: {answer.body[:200]!r}"
        )
    return json.loads(answer.body), answer.seconds


def study_instances(conn: http.client.HTTPConnection, server: Server, study_uid: str) -> int:
    """NumberOfStudyRelatedInstances of one study, 0 when the study is unknown."""
    results, _ = qido(
        conn, server, "studies", {"StudyInstanceUID": study_uid, "includefield": "00201208"}
    )
    if not results:
        return 0
    return int(results[0].get("00201208", {}).get("Value", [0])[0])


def check_studies(server: Server, studies: Iterable[tuple[str, int]]) -> None:
    """Every (study UID, instance count) must be indexed with exactly that many instances."""
    conn = server.connection()
    try:
        for uid, expected in studies:
            found = study_instances(conn, server, uid)
            if found != expected:
                raise CheckError(
                    f"{server.name} holds {found} instances of study {uid}, {expected} were sent"
                )
    finally:
        conn.close()
