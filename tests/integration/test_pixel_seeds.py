"""The seeds' older media types verbatim on the demo (issue 14 item 6): seed 002 retrieves the
Thompson abdomen CT study with ``Accept: multipart/related; type=image/jpeg`` and gets one JPEG
per frame of every image, in the study's order, each opening with Pillow."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.conftest import LiveServer
from tests.integration import test_seed_exercise as seed

pytestmark = pytest.mark.integration

demo_archive_dir = seed.demo_archive_dir
server = seed.server


@pytest.mark.engines("sqlite")
def test_seed_002_study_as_jpegs(server: LiveServer) -> None:
    study = seed.THOMPSON_STUDY_UID
    url = f"{server.dicomweb}/studies/{study}"
    headers = {**seed.HEADERS, "Accept": "multipart/related; type=image/jpeg"}
    response = httpx.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith('multipart/related; type="image/jpeg"')
    parts = seed._parts(response)
    instances = httpx.get(f"{url}/instances", headers=seed.HEADERS).json()
    frames = sum(int(i.get("00280008", {}).get("Value", [1])[0]) for i in instances)
    assert len(parts) == frames > 1
    for part_headers, jpeg in parts:
        assert part_headers["content-type"].startswith("image/jpeg")
        assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
    # The DICOM default is unchanged for clients that ask nothing in particular.
    plain = httpx.get(url, headers=seed.HEADERS)
    assert plain.headers["content-type"].startswith('multipart/related; type="application/dicom"')
