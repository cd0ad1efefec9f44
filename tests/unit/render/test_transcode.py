"""Transcoding an instance frame by frame: read back by pydicom with the same pixels
(lossless) or within a tolerance (JPEG Baseline, marked lossy per PS3.3 C.7.6.1.1.5), and by
DCMTK's dcmdump and dcmdjpeg without error."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from openvna.archive import Archive
from openvna.errors import NotAcceptable
from openvna.render import PixelTranscoder
from tests.tools import require_tools
from tests.unit.render.images import NATIVE, dataset, gray, in_syntax, rgb, stored

TARGETS = [
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.5",
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", [NATIVE[0], "1.2.840.10008.1.2.4.90"])
def test_lossless_targets_keep_every_pixel(archive: Archive, source: str, target: str) -> None:
    pixels = gray(frames=2)
    instance = stored(archive, in_syntax(dataset(pixels), source))
    data = PixelTranscoder().transcode(instance, target)
    ds = dcmread(io.BytesIO(data))
    assert ds.file_meta.TransferSyntaxUID == target
    assert ds.SOPInstanceUID == instance.sop_uid
    assert np.array_equal(ds.pixel_array, pixels)
    assert "LossyImageCompression" not in ds


def test_jpeg_baseline_of_8_bit_colour_is_marked_lossy(archive: Archive) -> None:
    pixels = rgb()
    instance = stored(archive, in_syntax(dataset(pixels, color=True), NATIVE[1]))
    ds = dcmread(io.BytesIO(PixelTranscoder().transcode(instance, "1.2.840.10008.1.2.4.50")))
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"
    assert float(ds.LossyImageCompressionRatio) > 1
    error = np.abs(ds.pixel_array.astype(int) - pixels.astype(int))
    assert error.mean() < 4  # quality 90 on smooth colour


def test_jpeg_baseline_of_12_bit_data_is_406(archive: Archive) -> None:
    instance = stored(archive, in_syntax(dataset(gray()), NATIVE[1]))
    with pytest.raises(NotAcceptable, match="8-bit"):
        PixelTranscoder().transcode(instance, "1.2.840.10008.1.2.4.50")


def test_a_syntax_it_cannot_make_is_406(archive: Archive) -> None:
    instance = stored(archive, in_syntax(dataset(gray()), NATIVE[1]))
    jpx = "1.2.840.10008.1.2.4.92"  # JPEG 2000 Part 2: no encoder here
    assert jpx not in PixelTranscoder().targets(NATIVE[1])
    with pytest.raises(NotAcceptable, match="cannot be converted"):
        PixelTranscoder().transcode(instance, jpx)


@pytest.mark.dcmtk
@pytest.mark.parametrize("target", [*TARGETS, "1.2.840.10008.1.2.4.50"])
def test_dcmtk_reads_what_is_made(archive: Archive, tmp_path: Path, target: str) -> None:
    require_tools("dcmdump")
    pixels = gray(bits=8, frames=2)
    instance = stored(archive, in_syntax(dataset(pixels), NATIVE[1]))
    made = tmp_path / "made.dcm"
    made.write_bytes(PixelTranscoder().transcode(instance, target))
    dump = subprocess.run(["dcmdump", "-E", str(made)], check=False, capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    assert "(7fe0,0010)" in dump.stdout and "E: " not in dump.stderr
    if target.startswith("1.2.840.10008.1.2.4.5"):
        out = tmp_path / "plain.dcm"
        subprocess.run(["dcmdjpeg", str(made), str(out)], check=True)
        assert np.abs(dcmread(out).pixel_array.astype(int) - pixels).max() < 16


@pytest.mark.parametrize("source", [NATIVE[0], NATIVE[2]])
def test_the_header_survives_any_source_encoding(archive: Archive, source: str) -> None:
    """Implicit VR and big endian headers are written explicit little endian, values intact,
    and the cached header of the stored instance is left as it was."""
    from openvna.render import header_of

    ds = dataset(gray(), PatientName="MÜLLER^JÖRG", SpecificCharacterSet="ISO_IR 100")
    ds.WindowCenter, ds.WindowWidth = [40, 400], [350, 2000]
    instance = stored(archive, in_syntax(ds, source))
    for target in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"):
        if target.endswith(".50"):
            with pytest.raises(NotAcceptable):
                PixelTranscoder().transcode(instance, target)
            continue
        out = dcmread(io.BytesIO(PixelTranscoder().transcode(instance, target)))
        assert out.PatientName == "MÜLLER^JÖRG"
        assert [float(v) for v in out.WindowWidth] == [350, 2000]
        assert out.Rows == 64 and out.PhotometricInterpretation == "MONOCHROME2"
    assert "LossyImageCompression" not in header_of(instance)
    assert header_of(instance).PhotometricInterpretation == "MONOCHROME2"


def test_elements_it_does_not_replace_keep_their_stored_bytes(archive: Archive) -> None:
    """A compressed instance's data set is Explicit VR Little Endian (PS3.5 A.4), as the one
    made is: what transcoding does not replace goes out byte for byte as stored (a known
    element a modality sent as UN stays UN, a private one keeps its bytes), not parsed and
    encoded again."""
    ds = dataset(gray(), ImageType=["ORIGINAL", "PRIMARY", "AXIAL"])
    ds.private_block(0x0009, "OPENVNA TEST", create=True).add_new(0x01, "UN", b"\x01\x02\x03\x04")
    ds.add_new(0x00181030, "UN", b"HEAD ")  # Protocol Name (LO) sent as UN
    instance = stored(archive, in_syntax(ds, "1.2.840.10008.1.2.4.90"))
    with instance.file().open() as handle:
        before = dcmread(handle, stop_before_pixels=True)
    made = PixelTranscoder().transcode(instance, "1.2.840.10008.1.2.1")
    after = dcmread(io.BytesIO(made), stop_before_pixels=True)
    tags = list(before.keys())
    assert list(after.keys()) == tags
    for tag in tags:
        assert after.get_item(tag).value == before.get_item(tag).value, tag
