"""Rendered and thumbnail resources through real HTTP (issue 14 item 3), compared with images
computed with NumPy from the stored pixels by the PS3.3 C.11.2.1.2 formulas."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pytest
from dicomweb_client import DICOMwebClient
from PIL import Image

from tests.integration.test_wado import assert_error, parts, store
from tests.unit.render.images import dataset, gray, in_syntax, rgb

EXPLICIT = "1.2.840.10008.1.2.1"


def _image(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def _linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    return np.rint(np.clip(y, 0, 255))


def test_png_of_an_instance_is_the_header_window_exactly(live_server: Any) -> None:
    pixels = gray()
    ds = dataset(pixels, WindowCenter=2048, WindowWidth=2000, RescaleSlope=1, RescaleIntercept=0)
    item = store(live_server, in_syntax(ds, "1.2.840.10008.1.2.4.80"))
    got = _image(httpx.get(item.path(live_server) + "/rendered", headers={"Accept": "image/png"}))
    assert np.abs(got.astype(int) - _linear(pixels.astype(float), 2048, 2000)).max() <= 1


def test_window_parameter_sigmoid_and_monochrome1(live_server: Any) -> None:
    pixels = gray()
    item = store(
        live_server, in_syntax(dataset(pixels, PhotometricInterpretation="MONOCHROME1"), EXPLICIT)
    )
    url = item.path(live_server) + "/rendered?window=1000,800,sigmoid&accept=image%2Fpng"
    got = _image(httpx.get(url))
    expected = 255 - np.rint(255 / (1 + np.exp(-4 * (pixels - 1000.0) / 800)))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_jpeg_by_default_and_within_tolerance(live_server: Any) -> None:
    pixels = gray(bits=8)
    item = store(live_server, in_syntax(dataset(pixels, BitsStored=8), EXPLICIT))
    response = httpx.get(item.path(live_server) + "/rendered")
    assert response.headers["content-type"] == "image/jpeg"
    got = _image(response)
    expected = _linear(pixels.astype(float), 127.5 + 0.5, 256)  # the frame's own range
    assert np.abs(got.astype(int) - expected).mean() < 3


def test_colour_frames_rendered_and_viewport(live_server: Any) -> None:
    pixels = rgb(frames=2)
    item = store(live_server, in_syntax(dataset(pixels, color=True), "1.2.840.10008.1.2.5"))
    got = _image(httpx.get(item.path(live_server) + "/frames/2/rendered?accept=image/png"))
    assert np.array_equal(got, pixels[1])
    small = _image(httpx.get(item.path(live_server) + "/frames/1/rendered?viewport=24,100"))
    assert small.shape == (32, 24, 3)  # 64x48 fitted into 24x100, aspect kept
    crop = httpx.get(
        item.path(live_server) + "/frames/1/rendered?viewport=10,10,0,0,10,10&accept=image/png"
    )
    assert np.array_equal(_image(crop), pixels[0, :10, :10])


def test_several_frames_are_multipart_and_gif_animates(live_server: Any) -> None:
    item = store(live_server, in_syntax(dataset(gray(frames=3)), EXPLICIT))
    response = httpx.get(item.path(live_server) + "/frames/3,1/rendered")
    got = parts(response)
    assert [h["Content-Type"] for h, _ in got] == ["image/jpeg", "image/jpeg"]
    gif = httpx.get(item.path(live_server) + "/rendered", headers={"Accept": "image/gif"})
    image = Image.open(io.BytesIO(gif.content))
    assert image.format == "GIF" and image.n_frames == 3


def test_thumbnails_at_every_level_as_ohif_asks(live_server: Any) -> None:
    pixels = gray(rows=256, columns=512)
    first = store(live_server, in_syntax(dataset(pixels), EXPLICIT))
    second = store(live_server, in_syntax(dataset(pixels), EXPLICIT), first.study, first.series)
    base = f"{live_server.dicomweb}/studies/{first.study}"
    for url in (
        base + "/thumbnail",
        f"{base}/series/{first.series}/thumbnail",
        second.path(live_server) + "/thumbnail?viewport=256,256",
        second.path(live_server) + "/frames/1/thumbnail",
    ):
        response = httpx.get(url)
        assert response.headers["content-type"] == "image/jpeg"
        shape = _image(response).shape
        assert shape == ((128, 256) if "viewport" in url else (64, 128)), url
    assert _image(httpx.get(base + "/rendered?accept=image%2Fjpeg")).shape == (256, 512)


def test_dicomweb_client_retrieves_rendered_frames(live_server: Any) -> None:
    item = store(live_server, in_syntax(dataset(gray(frames=2)), EXPLICIT))
    client = DICOMwebClient(url=live_server.dicomweb)
    image = client.retrieve_instance_frames_rendered(
        item.study, item.series, item.sop, [2], media_types=("image/png",)
    )
    assert Image.open(io.BytesIO(image)).size == (48, 64)


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ("window=40,0", 400, "width"),
        ("window=40,abc", 400, "number"),
        ("window=1,2,curvy", 400, "function"),
        ("viewport=0,0", 400, "viewport"),
        ("viewport=10", 400, "viewport"),
        ("quality=0", 400, "quality"),
        ("annotation=everything", 400, "annotation"),
        ("accept=image/tiff", 406, "image/tiff"),
    ],
)
def test_bad_rendering_parameters(live_server: Any, query: str, status: int, fragment: str):
    item = store(live_server, in_syntax(dataset(gray()), EXPLICIT))
    assert_error(httpx.get(f"{item.path(live_server)}/rendered?{query}"), status, fragment)
    assert httpx.get(f"{item.path(live_server)}/rendered").status_code == 200


def test_annotation_is_burned_in(live_server: Any) -> None:
    item = store(live_server, in_syntax(dataset(np.zeros((128, 128), np.uint16)), EXPLICIT))
    plain = _image(httpx.get(item.path(live_server) + "/rendered?accept=image/png"))
    marked = _image(
        httpx.get(
            item.path(live_server) + "/rendered?accept=image/png&annotation=patient,technique"
        )
    )
    assert plain.max() == 0 and marked.max() > 200


def test_capabilities_name_the_rendered_and_thumbnail_resources(live_server: Any) -> None:
    response = httpx.get(
        f"{live_server.dicomweb}/capabilities", headers={"Accept": "application/json"}
    )
    text = response.text
    for name in ("RetrieveRenderedStudy", "RetrieveInstanceThumbnail", "RetrieveRenderedFrames"):
        assert name in text, name


def test_a_corrupt_frame_is_406_and_the_server_keeps_serving(live_server_factory: Any) -> None:
    from pydicom.encaps import encapsulate, generate_frames

    server = live_server_factory(storage={"validation": "lenient"})
    ds = in_syntax(dataset(gray()), "1.2.840.10008.1.2.4.80")
    (frame,) = list(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[:20]])  # the JPEG-LS header cut short
    item = store(server, ds)
    for suffix in ("/rendered", "/frames/1/rendered", "/thumbnail"):
        assert_error(httpx.get(item.path(server) + suffix), 406, "cannot be decoded")
    octets = {"Accept": "multipart/related; type=application/octet-stream"}
    assert_error(httpx.get(item.path(server) + "/frames/1", headers=octets), 406, "decoded")
    good = store(server, in_syntax(dataset(gray()), EXPLICIT))
    assert httpx.get(good.path(server) + "/rendered").status_code == 200
