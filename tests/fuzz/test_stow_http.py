"""STOW-RS through real HTTP with mutated bodies and headers: never a 5xx, and a refused
request leaves the index, the blob store and the spool as they were."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openvna.dicom.part10 import part10_bytes
from tests.factories import make_instance
from tests.fuzz.test_parsers import mutated
from tests.spool import spool_left

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

_GOOD = part10_bytes(make_instance(rows=4, columns=4))
_BODY = b"--b\r\nContent-Type: application/dicom\r\n\r\n" + _GOOD + b"\r\n--b--\r\n"
_TYPES = st.sampled_from(
    [
        'multipart/related; type="application/dicom"; boundary=b',
        "multipart/related; boundary=b",
        'multipart/related; type="application/dicom+json"; boundary=b',
        "multipart/related; type=application/dicom",
        "application/dicom",
        "text/plain",
    ]
)


def _state(server: Any) -> tuple[int, int, int]:
    files = spool_left(server.data_dir)
    blobs = sum(1 for p in files if "blobs" in p.parts)
    spool = sum(1 for p in files if "spool" in p.parts)
    return server.archive.index.count_instances(), blobs, spool


@settings(max_examples=60)
@given(body=mutated(_BODY), content_type=_TYPES)
def test_no_body_gets_a_5xx_and_a_refusal_changes_nothing(
    live_server: Any, body: bytes, content_type: str
) -> None:
    before = _state(live_server)
    response = httpx.post(
        live_server.dicomweb + "/studies",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code < 500, response.text
    if response.status_code not in (200, 202):
        assert _state(live_server) == before
    assert _state(live_server)[2] == 0  # no spool file outlives its request
