"""`openvna serve --workers 2`: processes sharing one port and one index, each answering."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import httpx
import pytest

from tests.factories import make_instance
from tests.processes import serve_process

pytestmark = pytest.mark.integration

STUDY = "2.25.271828182845904523536"


def _stow(url: str, number: int) -> int:
    ds = make_instance(study_uid=STUDY, series_uid=f"2.25.{number % 3 + 1}", InstanceNumber=number)
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\n" + buffer.getvalue() + b"\r\n--b--\r\n"
    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=b'}
    return httpx.post(url + "/studies", content=body, headers=headers, timeout=30).status_code


def test_two_workers_store_and_find_the_same_study(tmp_path) -> None:
    with serve_process(tmp_path / "data", "--workers", "2") as (url, _):
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda n: _stow(url, n), range(40)))
        assert statuses == [200] * 40
        for _ in range(4):  # successive connections reach either worker: all see one index
            [study] = httpx.get(url + "/studies", params={"StudyInstanceUID": STUDY}).json()
            assert study["00201208"]["Value"] == [40]
            assert study["00201206"]["Value"] == [3]
