"""The DIMSE door under `openvna serve`: its processes share one port under the supervisor, on
the same index as the HTTP workers; eight storescu associations at once all land, counted by
QIDO-RS and by C-FIND, with the server's memory (PSS of its tree, as bench/ measures it) under
300 MB meanwhile (issue 9)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bench.servers import MemorySampler
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, free_port
from tests.processes import serve_process
from tests.tools import needs_dcmtk

pytestmark = [pytest.mark.integration, needs_dcmtk]

MEMORY_LIMIT = 300 * 1024 * 1024  # bytes


def _study_files(directory: Path, count: int) -> tuple[str, list[Path]]:
    directory.mkdir()
    first = make_instance()
    paths = []
    for number in range(count):
        ds = make_instance(
            study_uid=first.StudyInstanceUID,
            series_uid=first.SeriesInstanceUID,
            InstanceNumber=number + 1,
        )
        path = directory / f"{number}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return first.StudyInstanceUID, paths


def _storescu(port: int, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["storescu", "-aec", AE_TITLE, "+sd", "127.0.0.1", str(port), str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_eight_storescu_associations_at_once_all_land(tmp_path: Path) -> None:
    dimse_port = free_port()
    studies = [_study_files(tmp_path / f"s{n}", 100) for n in range(8)]
    options = ("--workers", "2", "--dimse-port", str(dimse_port))  # the defaults' processes
    environ = {"OPENVNA_DIMSE__PROCESSES": "2"}
    with serve_process(tmp_path / "data", *options, environ=environ) as (url, server):
        echo = subprocess.run(
            ["echoscu", "-aec", AE_TITLE, "127.0.0.1", str(dimse_port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert echo.returncode == 0, echo.stderr
        with MemorySampler(server.pid) as memory, ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda n: _storescu(dimse_port, tmp_path / f"s{n}"), range(8)))
        print(f"\nserver peak PSS with 8 associations storing: {memory.peak / 2**20:.0f} MB")
        assert memory.peak < MEMORY_LIMIT, f"peak PSS {memory.peak / 2**20:.0f} MB"
        for result in results:
            assert result.returncode == 0, result.stdout + result.stderr
        found = httpx.get(f"{url}/studies", timeout=30).json()
        counts = {s["0020000D"]["Value"][0]: s["00201208"]["Value"][0] for s in found}
        assert counts == {study: 100 for study, _ in studies}
        out = tmp_path / "find"
        out.mkdir()
        find = subprocess.run(
            [
                "findscu",
                "-aec",
                AE_TITLE,
                "-S",
                "-X",
                "-od",
                str(out),
                "-k",
                "QueryRetrieveLevel=IMAGE",
                "-k",
                "SOPInstanceUID",
                "127.0.0.1",
                str(dimse_port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert find.returncode == 0, find.stderr
        assert len(list(out.glob("rsp*.dcm"))) == 800, (find.stdout + find.stderr)[-1500:]
