"""Frames in any media type through real HTTP (issue 14 item 1): native little endian octets
decoded from any stored syntax, and JPEG, JPEG-LS, JPEG 2000, RLE and PNG encoded from the
decoded frame, each read back and compared with the pixels the instance was made from."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pytest
from dicomweb_client import DICOMwebClient
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder

from openvna.render.frames import pixel_options
from tests.integration.test_wado import assert_error, parts, store
from tests.unit.render.images import NATIVE, dataset, gray, in_syntax

EXPLICIT = "1.2.840.10008.1.2.1"


def _decode(data: bytes, syntax: str, ds: Any) -> np.ndarray:
    array, _ = get_decoder(syntax).as_array(encapsulate([data]), index=0, **pixel_options(ds))
    return array


@pytest.mark.parametrize("stored_in", [NATIVE[0], "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"])
def test_octets_are_the_decoded_frames_little_endian(live_server: Any, stored_in: str) -> None:
    pixels = gray(frames=3)
    item = store(live_server, in_syntax(dataset(pixels), stored_in))
    accept = "multipart/related; type=application/octet-stream"
    response = httpx.get(item.path(live_server) + "/frames/3,1", headers={"Accept": accept})
    got = parts(response)
    assert [h["Content-Type"] for h, _ in got] == [
        f"application/octet-stream; transfer-syntax={EXPLICIT}"
    ] * 2
    assert got[0][1] == pixels[2].astype("<u2").tobytes()
    assert got[1][1] == pixels[0].astype("<u2").tobytes()


@pytest.mark.parametrize(
    ("media_type", "syntax"),
    [
        ("image/jls", "1.2.840.10008.1.2.4.80"),
        ("image/jp2", "1.2.840.10008.1.2.4.90"),
        ("image/dicom-rle", "1.2.840.10008.1.2.5"),
    ],
)
def test_lossless_types_made_from_native_frames(live_server: Any, media_type: str, syntax: str):
    pixels = gray(frames=2)
    ds = in_syntax(dataset(pixels), EXPLICIT)
    item = store(live_server, ds)
    client = DICOMwebClient(url=live_server.dicomweb)
    frames = client.retrieve_instance_frames(
        item.study, item.series, item.sop, [2, 1], media_types=((media_type, syntax),)
    )
    assert np.array_equal(_decode(frames[0], syntax, ds), pixels[1])
    assert np.array_equal(_decode(frames[1], syntax, ds), pixels[0])


def test_htj2k_frames_made_from_native_frames(live_server: Any) -> None:
    """image/jphc (not in dicomweb-client's list yet): asked with the bare Accept header."""
    pixels = gray(frames=2)
    ds = in_syntax(dataset(pixels), EXPLICIT)
    item = store(live_server, ds)
    accept = "multipart/related; type=image/jphc"
    response = httpx.get(item.path(live_server) + "/frames/2", headers={"Accept": accept})
    ((headers, data),) = parts(response)
    assert headers["Content-Type"] == "image/jphc; transfer-syntax=1.2.840.10008.1.2.4.201"
    assert np.array_equal(_decode(data, "1.2.840.10008.1.2.4.201", ds), pixels[1])


def test_jpeg_of_8_bit_frames_and_406_for_12_bit(live_server: Any) -> None:
    pixels = gray(bits=8)
    item = store(live_server, in_syntax(dataset(pixels), EXPLICIT))
    response = httpx.get(item.path(live_server) + "/frames/1", headers={"Accept": "image/jpeg"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"
    decoded = np.asarray(Image.open(io.BytesIO(response.content)))
    assert np.abs(decoded.astype(int) - pixels).mean() < 3
    deep = store(live_server, in_syntax(dataset(gray()), EXPLICIT))
    response = httpx.get(deep.path(live_server) + "/frames/1", headers={"Accept": "image/jpeg"})
    assert_error(response, 406, "8-bit")


def test_png_frames_are_the_stored_values(live_server: Any) -> None:
    pixels = gray(frames=2)
    item = store(live_server, in_syntax(dataset(pixels), "1.2.840.10008.1.2.4.80"))
    response = httpx.get(item.path(live_server) + "/frames/2", headers={"Accept": "image/png"})
    assert response.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(response.content))), pixels[1])


@pytest.mark.parametrize("frames", ["0", "1,a", "3"])
def test_bad_frame_numbers_are_400_and_the_server_keeps_serving(live_server: Any, frames: str):
    item = store(live_server, in_syntax(dataset(gray(frames=2)), EXPLICIT))
    assert_error(httpx.get(f"{item.path(live_server)}/frames/{frames}"), 400, "frame")
    assert httpx.get(f"{item.path(live_server)}/frames/2").status_code == 200
