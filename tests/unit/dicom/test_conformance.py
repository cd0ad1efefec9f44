"""Ingest conformance checks: each malformed object the integrity review stored, and the real
compressed files of pydicom's test data, which must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import JPEGBaseline8Bit, RLELossless

from openvna.dicom.conformance import Flaw, FlawKind, flaws
from openvna.dicom.part10 import read_header
from tests.factories import claiming_syntax, encapsulated, make_instance


def _flaws(path: Path) -> list[Flaw]:
    return flaws(path, read_header(path))


def _saved(ds: Dataset, path: Path, syntax: str | None = None) -> Path:
    if syntax is None:
        ds.save_as(path, enforce_file_format=True)
    else:
        path.write_bytes(claiming_syntax(ds, syntax))
    return path


def test_a_valid_instance_has_no_flaw(tmp_path: Path) -> None:
    assert _flaws(_saved(make_instance(frames=3), tmp_path / "ok.dcm")) == []


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "MR_small_RLE.dcm",
        "JPEG-lossy.dcm",
        "JPEGLSNearLossless_16.dcm",  # its Modality is missing: added below
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_rle_2frame.dcm",
        "CT_small.dcm",
        "MR_small_bigendian.dcm",
    ],
)
def test_real_files_of_every_kind_pass(name: str, tmp_path: Path) -> None:
    path = Path(get_testdata_file(name))
    ds = dcmread(path)
    if "Modality" not in ds:
        ds.Modality = "OT"
        path = tmp_path / name
        ds.save_as(path)
    assert _flaws(path) == []


def test_native_pixels_under_a_jpeg_syntax_are_an_encoding_flaw(tmp_path: Path) -> None:
    path = _saved(make_instance(), tmp_path / "native.dcm", JPEGBaseline8Bit)
    [flaw] = _flaws(path)
    assert flaw.kind is FlawKind.ENCODING
    assert "compressed but Pixel Data has a defined length" in flaw.text


def test_a_jpeg_fragment_of_garbage_is_an_encoding_flaw(tmp_path: Path) -> None:
    ds = encapsulated(make_instance(), [b"garbage!" * 4], JPEGBaseline8Bit)
    [flaw] = _flaws(_saved(ds, tmp_path / "garbage.dcm"))
    assert flaw.kind is FlawKind.ENCODING
    assert flaw.text.startswith("frame 1 does not start like a JPEG Baseline")


def test_the_second_frame_is_checked_too(tmp_path: Path) -> None:
    jpeg = Path(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    frame = read_header(jpeg).frames[0]
    data = jpeg.read_bytes()
    good = b"".join(data[offset : offset + length] for offset, length in frame)
    ds = encapsulated(make_instance(NumberOfFrames=2), [good, b"\0" * 64], JPEGBaseline8Bit)
    [flaw] = _flaws(_saved(ds, tmp_path / "two.dcm"))
    assert flaw.text.startswith("frame 2 does not start")


def test_an_rle_frame_needs_its_segment_header(tmp_path: Path) -> None:
    ds = encapsulated(make_instance(), [b"\x01\0\0\0" + b"\0" * 60 + b"\0" * 8], RLELossless)
    [flaw] = _flaws(_saved(ds, tmp_path / "rle.dcm"))
    assert "RLE Lossless" in flaw.text


def test_fragments_under_a_native_syntax_are_an_encoding_flaw(tmp_path: Path) -> None:
    ds = encapsulated(make_instance(), [b"\xff\xd8\xff\xd9"], JPEGBaseline8Bit)
    path = _saved(ds, tmp_path / "frag.dcm")
    data = path.read_bytes().replace(JPEGBaseline8Bit.encode(), b"1.2.840.10008.1.2.1\0\0\0")
    path.write_bytes(data)
    [flaw] = _flaws(path)
    assert "encapsulated (fragments) but the transfer syntax 1.2.840.10008.1.2.1" in flaw.text


def test_an_unknown_transfer_syntax_is_an_encoding_flaw(tmp_path: Path) -> None:
    [flaw] = _flaws(_saved(make_instance(), tmp_path / "unknown.dcm", "1.2.3.4.5"))
    assert (flaw.kind, flaw.text.split(" is ")[0]) == (
        FlawKind.ENCODING,
        "Transfer Syntax UID 1.2.3.4.5",
    )


def test_zero_frames_is_an_iod_flaw(tmp_path: Path) -> None:
    [flaw] = _flaws(_saved(make_instance(NumberOfFrames=0), tmp_path / "zero.dcm"))
    assert flaw.kind is FlawKind.IOD
    assert "Number of Frames (0028,0008) is 0" in flaw.text


def test_file_meta_naming_another_instance_is_an_iod_flaw(tmp_path: Path) -> None:
    ds = make_instance()
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.ImplementationClassUID = "1.2.3"
    ds.preamble = b"\0" * 128
    ds.save_as(tmp_path / "meta.dcm", enforce_file_format=False)
    [flaw] = _flaws(tmp_path / "meta.dcm")
    assert flaw.kind is FlawKind.IOD
    expected = f"1.2.3.4 differs from the data set's SOPInstanceUID {ds.SOPInstanceUID}"
    assert f"MediaStorageSOPInstanceUID {expected}" in flaw.text


def test_a_real_file_whose_file_meta_names_another_instance() -> None:
    # pydicom's rtdose.dcm: 1.2.999... in File Meta, 1.9.999... in the data set.
    [flaw] = _flaws(Path(get_testdata_file("rtdose.dcm")))
    assert flaw.text.startswith("File Meta MediaStorageSOPInstanceUID 1.2.999.999")


def test_missing_type_1_attributes_are_iod_flaws(tmp_path: Path) -> None:
    ds = make_instance()
    del ds.Modality
    del ds.BitsStored
    found = _flaws(_saved(ds, tmp_path / "missing.dcm"))
    assert [flaw.kind for flaw in found] == [FlawKind.IOD, FlawKind.IOD]
    assert "Modality (0008,0060)" in found[0].text
    assert "without BitsStored" in found[1].text


def test_missing_type_2_attributes_are_no_flaw(tmp_path: Path) -> None:
    ds = make_instance()
    for keyword in ("PatientID", "PatientName", "StudyDate", "AccessionNumber", "SeriesNumber"):
        delattr(ds, keyword)
    assert _flaws(_saved(ds, tmp_path / "type2.dcm")) == []


def test_a_zero_pixel_representation_in_implicit_vr_is_a_value(tmp_path: Path) -> None:
    ds = make_instance(PixelRepresentation=0)
    path = tmp_path / "implicit.dcm"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    ds.save_as(path, enforce_file_format=True)
    assert _flaws(path) == []
