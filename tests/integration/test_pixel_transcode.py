"""Transcoding on WADO-RS retrieve through real HTTP (issue 14 item 4): dicomweb-client asks
each syntax the transcoder makes; pixels come back equal (lossless) or marked lossy."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pytest
from dicomweb_client import DICOMwebClient
from pydicom import dcmread

from openvna.dicom.uid import generate_uid
from tests.integration.test_wado import assert_error, parts, parts_chunked, store, store_many
from tests.unit.render.images import dataset, gray, in_syntax, rgb

EXPLICIT = "1.2.840.10008.1.2.1"
HTJ2K = "1.2.840.10008.1.2.4.201"


@pytest.mark.parametrize(
    "syntax",
    [
        EXPLICIT,
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.5",
    ],
)
def test_a_study_in_each_lossless_syntax(live_server: Any, syntax: str) -> None:
    study, series = generate_uid(), generate_uid()
    frames = [gray(frames=2), gray(bits=16, signed=True)]
    sources = ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2"]
    for pixels, source in zip(frames, sources, strict=True):
        ds = dataset(pixels, BitsStored=16) if pixels.dtype.kind == "i" else dataset(pixels)
        store(live_server, in_syntax(ds, source), study, series)
    if syntax == HTJ2K:  # not in dicomweb-client's list of syntaxes yet
        accept = f'multipart/related; type="application/dicom"; transfer-syntax={syntax}'
        url = f"{live_server.dicomweb}/studies/{study}"
        response = httpx.get(url, headers={"Accept": accept})
        got = [dcmread(io.BytesIO(data)) for _, data in parts_chunked(response)]
    else:
        client = DICOMwebClient(url=live_server.dicomweb)
        got = client.retrieve_study(study, media_types=(("application/dicom", syntax),))
    assert [ds.file_meta.TransferSyntaxUID for ds in got] == [syntax, syntax]
    by_bits = {ds.PixelRepresentation: ds.pixel_array for ds in got}
    assert np.array_equal(by_bits[0], frames[0]) and np.array_equal(by_bits[1], frames[1])


def test_jpeg_baseline_is_marked_lossy_and_default_keeps_lossless_data_exact(live_server: Any):
    pixels = rgb()
    item = store(live_server, in_syntax(dataset(pixels, color=True), "1.2.840.10008.1.2.5"))
    client = DICOMwebClient(url=live_server.dicomweb)
    lossy = client.retrieve_instance(
        item.study,
        item.series,
        item.sop,
        media_types=(("application/dicom", "1.2.840.10008.1.2.4.50"),),
    )
    assert lossy.LossyImageCompression == "01"
    assert lossy.LossyImageCompressionMethod == "ISO_10918_1"
    assert np.abs(lossy.pixel_array.astype(int) - pixels).mean() < 4
    # No transfer-syntax: Explicit VR Little Endian (PS3.18 §8.7.3.4).
    response = httpx.get(item.path(live_server), headers={"Accept": "application/dicom"})
    assert response.headers["content-type"] == f"application/dicom; transfer-syntax={EXPLICIT}"
    plain = client.retrieve_instance(item.study, item.series, item.sop)
    assert np.array_equal(plain.pixel_array, pixels)
    stored = client.retrieve_instance(
        item.study, item.series, item.sop, media_types=(("application/dicom", "*"),)
    )
    assert stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5"


def test_a_12_bit_instance_cannot_be_jpeg_baseline(live_server: Any) -> None:
    item = store(live_server, in_syntax(dataset(gray()), EXPLICIT))
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'
    response = httpx.get(item.path(live_server), headers={"Accept": accept})
    assert response.status_code == 406, response.text
    assert "8-bit" in response.json()["error"]


STUDY_PARTS = 'multipart/related; type="application/dicom"'
J2K = "1.2.840.10008.1.2.4.90"


def _j2k_series(server: Any, count: int, corrupt: int | None = None) -> tuple[str, list[Any]]:
    """``count`` JPEG 2000 instances of one series, numbered 1.. in order, each its own pixels;
    instance ``corrupt`` with its code stream cut short."""
    from pydicom.encaps import encapsulate, generate_frames

    study, series = generate_uid(), generate_uid()
    pixels = []
    for number in range(1, count + 1):
        values = np.roll(gray(), 5 * number, axis=1)
        ds = in_syntax(dataset(values, InstanceNumber=number), J2K)
        if number == corrupt:
            (frame,) = list(generate_frames(ds.PixelData, number_of_frames=1))
            ds.PixelData = encapsulate([frame[:40]])
        store(server, ds, study, series)
        pixels.append(values)
    return study, pixels


def test_instances_made_ahead_come_back_in_order(live_server: Any) -> None:
    """Instances are decoded ahead of the one being sent: the parts still follow the study's
    order (as the instances stored), each with its own pixels."""
    study, pixels = _j2k_series(live_server, 6)
    url = f"{live_server.dicomweb}/studies/{study}"
    as_stored = parts(httpx.get(url, headers={"Accept": f"{STUDY_PARTS}; transfer-syntax=*"}))
    response = httpx.get(url, headers={"Accept": f"{STUDY_PARTS}; transfer-syntax={EXPLICIT}"})
    made = [dcmread(io.BytesIO(data)) for _, data in parts_chunked(response)]
    order = [
        dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID for _, data in as_stored
    ]
    assert [ds.SOPInstanceUID for ds in made] == order
    assert [int(ds.InstanceNumber) for ds in made] == list(range(1, 7))
    for ds, values in zip(made, pixels, strict=True):
        assert ds.file_meta.TransferSyntaxUID == EXPLICIT
        assert np.array_equal(ds.pixel_array, values)


def test_an_instance_that_cannot_be_made_ends_the_stream_after_the_ones_before(
    live_server_factory: Any,
) -> None:
    """Instance 2 of 3 cannot be decoded: the status went out with instance 1, so the body
    stops after instance 1, without its closing delimiter (the client sees it broken, never a
    part short or out of order); the server keeps serving."""
    server = live_server_factory(storage={"validation": "lenient"})
    study, _ = _j2k_series(server, 3, corrupt=2)
    url = f"{server.dicomweb}/studies/{study}"
    accept = f"{STUDY_PARTS}; transfer-syntax={EXPLICIT}"
    received = bytearray()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", url, headers={"Accept": accept}) as response,
    ):
        assert response.status_code == 200
        boundary = response.headers["content-type"].rsplit("boundary=", 1)[1].encode()
        for chunk in response.iter_raw():
            received += chunk
    assert received.count(b"--" + boundary) == 1
    assert (
        received.count(f"Content-Type: application/dicom; transfer-syntax={EXPLICIT}".encode()) == 1
    )
    assert not received.rstrip().endswith(b"--")
    again = httpx.get(f"{url}/series", headers={"Accept": "application/dicom+json"})
    assert again.status_code == 200


def test_a_first_instance_that_cannot_be_made_is_406_though_the_next_was_begun(
    live_server_factory: Any,
) -> None:
    """The first part decides the status while the second is already being made: 406 with
    the first one's reason, and the server goes on serving the same series."""
    server = live_server_factory(storage={"validation": "lenient"})
    study, _ = _j2k_series(server, 3, corrupt=1)
    url = f"{server.dicomweb}/studies/{study}"
    accept = f"{STUDY_PARTS}; transfer-syntax={EXPLICIT}"
    for _ in range(2):
        assert_error(httpx.get(url, headers={"Accept": accept}), 406, "frame 1 of instance")
    as_stored = httpx.get(url, headers={"Accept": f"{STUDY_PARTS}; transfer-syntax=*"})
    assert len(parts(as_stored)) == 3


TRANSCODED_INSTANCES = 400  # 512 x 512 x 16 bit, implicit VR: ~210 MB made on the fly


def test_a_transcoded_study_streams_with_flat_server_memory(live_server: Any) -> None:
    """Issue 14: transcoding streams instance by instance. The study is stored implicit VR, so
    the default retrieve (Explicit VR LE, §8.7.3.4) makes every instance; the server (in this
    process) must not grow by the study's size."""
    from tests.integration.test_wado import _PeakRss

    implicit = "1.2.840.10008.1.2"
    study_uid, stored_bytes = store_many(live_server, TRANSCODED_INSTANCES, implicit)
    marker = f"Content-Type: application/dicom; transfer-syntax={EXPLICIT}".encode()
    received = found = 0
    tail = b""
    sampler = _PeakRss()
    baseline = sampler.peak
    sampler.start()
    try:
        url = f"{live_server.dicomweb}/studies/{study_uid}"
        with httpx.stream("GET", url, timeout=300) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw(1 << 20):
                received += len(chunk)
                window = tail + chunk
                found += window.count(marker)
                tail = window[-(len(marker) - 1) :]
    finally:
        sampler.done.set()
        sampler.join()
    assert found == TRANSCODED_INSTANCES and received > stored_bytes > 200_000_000
    growth_mb = (sampler.peak - baseline) / 1024
    print(f"\ntranscoded {received / 1e6:.0f} MB, server RSS growth {growth_mb:.1f} MB")
    assert growth_mb < 100, growth_mb
