"""A study larger than 1 GB goes in (STOW-RS) and out (WADO-RS) with the server's memory
< 300 MB.

The server runs as its own processes (`openvna serve`: a supervisor and the workers it forked),
so their memory is measured alone: the proportional set size (PSS) of the tree, which counts
the pages the workers share with the supervisor once (the sum of their RSS would count the
libraries the supervisor imported once per process), sampled while the study goes in and out by
the bench's own sampler (bench/servers.py), so that this bound and the bench's row agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from pydicom.uid import generate_uid as pydicom_uid

from bench.servers import MemorySampler
from tests.factories import make_instance
from tests.processes import serve_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INSTANCES = 2200  # 512 x 512 x 16 bit: ~1.15 GB
MEMORY_LIMIT = 300 * 1024 * 1024  # bytes
BOUNDARY = "openvna-memory-test"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    with serve_process(tmp_path / "data") as (url, process):
        yield url, process.pid


def _body(study_uid: str, series_uid: str) -> Iterator[bytes]:
    template = make_instance(study_uid=study_uid, series_uid=series_uid, rows=512, columns=512)
    for number in range(1, INSTANCES + 1):
        template.SOPInstanceUID = pydicom_uid()
        template.InstanceNumber = number
        buffer = BytesIO()
        template.save_as(buffer, enforce_file_format=True)
        yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        yield buffer.getvalue()
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def test_one_gigabyte_study_in_and_out_with_flat_memory(server) -> None:
    url, pid = server
    study_uid, series_uid = pydicom_uid(), pydicom_uid()
    content_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    with MemorySampler(pid) as sampler:
        stored = httpx.post(
            f"{url}/studies",
            content=_body(study_uid, series_uid),
            headers={"Content-Type": content_type, "Accept": "application/dicom+json"},
            timeout=600,
        )
        assert stored.status_code == 200, stored.text[:500]
        assert len(stored.json()["00081199"]["Value"]) == INSTANCES
        after_store = sampler.peak

        received = 0
        parts = 0
        with httpx.stream("GET", f"{url}/studies/{study_uid}", timeout=600) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(1 << 20):
                received += len(chunk)
                parts += chunk.count(b"Content-Type: application/dicom")
    assert received > 1_000_000_000
    assert parts == INSTANCES
    peak = sampler.peak
    print(
        f"\nserver peak PSS: during STOW {after_store / 2**20:.0f} MB, "
        f"with WADO {peak / 2**20:.0f} MB for {received / 1e9:.2f} GB"
    )
    assert peak < MEMORY_LIMIT, f"peak PSS {peak / 2**20:.0f} MB"
