"""Decoding frame by frame: every syntax of issue 14 gives back the exact pixels it was made
from (lossless) or pixels within a stated tolerance (lossy), and bad data is a clear 406."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.pixels.processing import convert_color_space
from pydicom.pixels.utils import pixel_array

from openvna.archive import Archive, Origin
from openvna.errors import BadRequest, NotAcceptable
from openvna.render import decode_frame
from tests.tools import require_tools
from tests.unit.render.images import LOSSLESS, NATIVE, dataset, gray, in_syntax, rgb, stored

ENCODED_HERE = [s for s in LOSSLESS if s.endswith((".80", ".90", ".201", ".5"))]


@pytest.mark.parametrize("syntax", [*NATIVE, *ENCODED_HERE])
def test_grayscale_frames_decode_exactly(archive: Archive, syntax: str) -> None:
    pixels = gray(frames=3)
    instance = stored(archive, in_syntax(dataset(pixels), syntax))
    for number in (3, 1, 2):  # any order: each frame on its own
        assert np.array_equal(decode_frame(instance, number).pixels, pixels[number - 1])


@pytest.mark.parametrize("syntax", [NATIVE[1], NATIVE[2], *ENCODED_HERE])
def test_signed_16_bit_decodes_exactly(archive: Archive, syntax: str) -> None:
    pixels = gray(bits=16, signed=True)
    ds = dataset(pixels, BitsStored=16)
    decoded = decode_frame(stored(archive, in_syntax(ds, syntax)), 1)
    assert decoded.pixels.dtype.kind == "i"
    assert np.array_equal(decoded.pixels, pixels)


@pytest.mark.parametrize("syntax", [NATIVE[1], *ENCODED_HERE])
def test_rgb_decodes_exactly(archive: Archive, syntax: str) -> None:
    pixels = rgb(frames=2)
    instance = stored(archive, in_syntax(dataset(pixels, color=True), syntax))
    decoded = decode_frame(instance, 2)
    assert decoded.photometric == "RGB"
    assert np.array_equal(decoded.pixels, pixels[1])


def _test_file(archive: Archive, name: str):  # type: ignore[no-untyped-def]
    ds = dcmread(get_testdata_file(name))
    outcome = archive.store_dataset(ds, Origin.local("test"))
    assert outcome.ok, outcome.message
    (instance,) = archive.retrieve(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    return ds, instance


def test_jpeg_lossless_sv1_equals_the_rle_copy_of_the_same_image(archive: Archive) -> None:
    _, lossless = _test_file(archive, "SC_rgb_jpeg_gdcm.dcm")  # .70, RGB
    reference = dcmread(get_testdata_file("SC_rgb_rle.dcm")).pixel_array
    assert np.array_equal(decode_frame(lossless, 1).pixels, reference)


def test_jpeg_lossless_process_14_from_dcmtk(archive: Archive, tmp_path: Path) -> None:
    require_tools("dcmcjpeg")
    pixels = gray()
    source = tmp_path / "native.dcm"
    in_syntax(dataset(pixels), NATIVE[1]).save_as(source, enforce_file_format=True)
    target = tmp_path / "p14.dcm"
    subprocess.run(["dcmcjpeg", "+el", str(source), str(target)], check=True)
    ds = dcmread(target)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.57"
    outcome = archive.store_dataset(ds, Origin.local("test"))
    assert outcome.ok, outcome.message
    (instance,) = archive.retrieve(ds.StudyInstanceUID)
    assert np.array_equal(decode_frame(instance, 1).pixels, pixels)


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [("JPGExtended.dcm", 0), ("SC_rgb_dcmtk_+eb+cy+np.dcm", 0), ("examples_ybr_color.dcm", 0)],
)
def test_lossy_syntaxes_decode_like_pydicom_whole(archive: Archive, name: str, tolerance: int):
    """JPEG Extended 12-bit and baseline YBR: frame by frame equals pydicom's whole decode."""
    ds, instance = _test_file(archive, name)
    whole = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    number = frames
    expected = whole[number - 1] if frames > 1 else whole
    got = decode_frame(instance, number).pixels
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= tolerance


def test_ybr_full_422_native_comes_out_rgb(archive: Archive) -> None:
    _, instance = _test_file(archive, "SC_ybr_full_422_uncompressed.dcm")
    decoded = decode_frame(instance, 1)
    assert decoded.photometric == "RGB"
    ybr = pixel_array(get_testdata_file("SC_ybr_full_422_uncompressed.dcm"), raw=True)
    expected = convert_color_space(ybr, "YBR_FULL", "RGB")
    assert np.abs(decoded.pixels.astype(int) - expected.astype(int)).max() <= 1
    assert tuple(decoded.pixels[0, 0]) == (254, 0, 0)  # the test image's red band


def test_a_frame_out_of_range_is_400(archive: Archive) -> None:
    instance = stored(archive, in_syntax(dataset(gray(frames=2)), NATIVE[1]))
    with pytest.raises(BadRequest, match="has 2 frame"):
        decode_frame(instance, 3)


def test_a_corrupt_compressed_frame_is_406_naming_it(settings_factory) -> None:  # type: ignore[no-untyped-def]
    from openvna.runtime import build_archive

    archive = build_archive(settings_factory(storage={"validation": "lenient"}))
    try:
        ds = in_syntax(dataset(gray()), "1.2.840.10008.1.2.4.80")
        from pydicom.encaps import encapsulate, generate_frames

        (frame,) = list(generate_frames(ds.PixelData, number_of_frames=1))
        ds.PixelData = encapsulate([frame[:20]])
        instance = stored(archive, ds)
        with pytest.raises(NotAcceptable, match="cannot be decoded"):
            decode_frame(instance, 1)
    finally:
        archive.close()
