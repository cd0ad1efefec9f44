"""A small DICOMweb client on http.client: keep-alive connections, 1 MB reads, multipart counting.

http.client is used rather than httpx because the client shares two cores with the servers: it
reads a retrieve response in 1 MB ``readinto`` calls and counts multipart parts by searching
for the boundary delimiter (PS3.18 8.6.1.2, RFC 2046 5.1.1) in C, so the client costs the same,
and little, for both servers.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Iterable
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
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept})
    response = conn.getresponse()
    if response.status != 200:
        response.read()
        return Streamed(response.status, 0, 0, time.perf_counter() - start)
    delimiter = b"\r\n--" + boundary_of(response.getheader("Content-Type", ""))
    keep = len(delimiter) - 1
    tail, count, nbytes = b"\r\n", 0, 0
    while n := response.readinto(buffer):
        nbytes += n
        # Delimiters straddling the previous read start in ``tail`` (the last ``keep`` bytes).
        window = tail + bytes(view[: min(n, keep)])
        count += window.count(delimiter) + buffer.count(delimiter, 0, n)
        tail = bytes(view[n - keep : n]) if n >= keep else (tail + bytes(view[:n]))[-keep:]
    seconds = time.perf_counter() - start
    return Streamed(200, nbytes, max(0, count - 1), seconds)


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
