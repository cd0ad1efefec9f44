"""Instances built from STOW-RS metadata and bulk data: pixel encapsulation and coercions."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest
from PIL import Image
from pydicom import dcmread

from openvna.archive.assemble import (
    JPEG_2000,
    JPEG_BASELINE,
    JPEG_EXTENDED,
    JPEG_LOSSLESS,
    JPEG_LOSSLESS_SV1,
    SECONDARY_CAPTURE,
    assemble_instance,
    parse_metadata,
)
from openvna.dicom.part10 import part10_bytes
from openvna.dicom.uid import is_valid_uid
from openvna.errors import BadRequest, UnsupportedMediaType

STUDY, SERIES, SOP = "1.2.3.4", "1.2.3.4.5", "1.2.3.4.5.6"
CT = "1.2.840.10008.5.1.4.1.1.2"


def _image(mode: str = "RGB", size: tuple[int, int] = (40, 24), **save: Any) -> bytes:
    rng = np.random.default_rng(7)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    pixels = rng.integers(0, 255, shape, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, **{"format": "JPEG", **save})
    return buffer.getvalue()


def _bulk(parts: dict[str, tuple[str, bytes]]) -> Callable[[str], tuple[str, Any]]:
    def lookup(uri: str) -> tuple[str, Any]:
        if uri not in parts:
            raise BadRequest(f"no part {uri}")
        media, data = parts[uri]
        return media, lambda: data

    return lookup


def _meta(*, uids: bool = True, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "THOMPSON^ALEX"}]},
        "7FE00010": {"vr": "OB", "BulkDataURI": "px"},
    }
    if uids:
        meta |= {
            "00080016": {"vr": "UI", "Value": [CT]},
            "00080018": {"vr": "UI", "Value": [SOP]},
            "0020000D": {"vr": "UI", "Value": [STUDY]},
            "0020000E": {"vr": "UI", "Value": [SERIES]},
            "00080060": {"vr": "CS", "Value": ["CT"]},
        }
    return meta | extra


def _roundtrip(ds: Any) -> Any:
    return dcmread(io.BytesIO(part10_bytes(ds)))


def test_a_jpeg_becomes_encapsulated_baseline_with_its_image_pixel_module() -> None:
    jpeg = _image()
    built = assemble_instance(_meta(), _bulk({"px": ("image/jpeg", jpeg)}))
    assert built.coerced == ()
    ds = _roundtrip(built.dataset)
    assert ds.file_meta.TransferSyntaxUID == JPEG_BASELINE
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (24, 40, 3)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (8, 8, 7, 0)
    assert ds.PlanarConfiguration == 0
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"
    assert "OriginalAttributesSequence" not in ds
    # Basic Offset Table item (empty), one fragment padded to even length, delimiter.
    data = ds.PixelData
    assert data[:8] == b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
    (length,) = struct.unpack("<I", data[12:16])
    assert length % 2 == 0 and data[16 : 16 + len(jpeg)] == jpeg
    assert ds.pixel_array.shape == (24, 40, 3)


def test_a_grey_jpeg_is_monochrome2_without_planar_configuration() -> None:
    built = assemble_instance(_meta(), _bulk({"px": ("image/jpeg", _image("L"))}))
    ds = _roundtrip(built.dataset)
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.SamplesPerPixel == 1 and "PlanarConfiguration" not in ds
    assert ds.pixel_array.shape == (24, 40)


def test_given_attributes_that_contradict_the_jpeg_are_coerced_and_recorded() -> None:
    meta = _meta(
        **{"00280010": {"vr": "US", "Value": [512]}, "00280002": {"vr": "US", "Value": [3]}}
    )
    built = assemble_instance(meta, _bulk({"px": ("image/jpeg", _image())}))
    assert built.coerced == ("Rows",)
    ds = _roundtrip(built.dataset)
    assert ds.Rows == 24
    original = ds.OriginalAttributesSequence[0]
    assert original.ReasonForTheAttributeModification == "COERCE"
    assert original.ModifyingSystem == "openvna"
    assert original.ModifiedAttributesSequence[0].Rows == 512


def test_missing_identifiers_are_supplied_as_a_secondary_capture() -> None:
    built = assemble_instance(_meta(uids=False), _bulk({"px": ("image/jpeg", _image())}), STUDY)
    ds = _roundtrip(built.dataset)
    assert ds.StudyInstanceUID == STUDY
    assert is_valid_uid(ds.SeriesInstanceUID) and is_valid_uid(ds.SOPInstanceUID)
    assert ds.SOPClassUID == SECONDARY_CAPTURE
    assert (ds.ConversionType, ds.Modality) == ("WSD", "OT")
    assert set(built.coerced) == {
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "ConversionType",
        "Modality",
    }
    previous = ds.OriginalAttributesSequence[0].ModifiedAttributesSequence[0]
    assert previous["SOPInstanceUID"].value in ("", None)


def test_without_a_target_study_a_missing_study_uid_stays_missing() -> None:
    built = assemble_instance(_meta(uids=False), _bulk({"px": ("image/jpeg", _image())}))
    assert "StudyInstanceUID" not in built.dataset


def test_a_progressive_jpeg_is_refused_as_unsupported() -> None:
    jpeg = _image(progressive=True)
    with pytest.raises(UnsupportedMediaType, match="SOF2"):
        assemble_instance(_meta(), _bulk({"px": ("image/jpeg", jpeg)}))


def _jpeg_header(sof: int, precision: int, components: int = 1, predictor: int = 0) -> bytes:
    frame = struct.pack(">BHHB", precision, 16, 32, components)
    frame += b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    scan = bytes([components]) + b"".join(bytes([i + 1, 0]) for i in range(components))
    scan += bytes([predictor, 0, 0])
    return (
        b"\xff\xd8\xff"
        + bytes([sof])
        + struct.pack(">H", len(frame) + 2)
        + frame
        + b"\xff\xda"
        + struct.pack(">H", len(scan) + 2)
        + scan
        + b"\x00\x00\xff\xd9"
    )


@pytest.mark.parametrize(
    ("sof", "precision", "predictor", "syntax", "allocated", "lossy"),
    [
        (0xC1, 12, 0, JPEG_EXTENDED, 16, True),
        (0xC1, 8, 0, JPEG_EXTENDED, 8, True),
        (0xC3, 16, 1, JPEG_LOSSLESS_SV1, 16, False),
        (0xC3, 10, 4, JPEG_LOSSLESS, 16, False),
    ],
)
def test_the_jpeg_process_picks_the_transfer_syntax(
    sof: int, precision: int, predictor: int, syntax: str, allocated: int, lossy: bool
) -> None:
    data = _jpeg_header(sof, precision, predictor=predictor)
    ds = assemble_instance(_meta(), _bulk({"px": ("image/jpeg", data)})).dataset
    assert ds.file_meta.TransferSyntaxUID == syntax
    assert (ds.Rows, ds.Columns) == (16, 32)
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (allocated, precision, precision - 1)
    assert ("LossyImageCompression" in ds) is lossy


@pytest.mark.parametrize("data", [b"not a jpeg", b"\xff\xd8\xff\xc0\x00"])
def test_a_broken_jpeg_cannot_be_understood(data: bytes) -> None:
    with pytest.raises(BadRequest, match=r"(?i)jpeg"):
        assemble_instance(_meta(), _bulk({"px": ("image/jpeg", data)}))


@pytest.mark.parametrize(
    ("options", "photometric", "lossy"),
    [
        ({"mct": 1}, "YBR_RCT", False),
        ({"mct": 1, "irreversible": True}, "YBR_ICT", True),
        ({"mct": 0}, "RGB", False),
        ({"no_jp2": True}, "RGB", False),
    ],
)
def test_jpeg_2000_is_stored_as_its_code_stream(
    options: dict[str, Any], photometric: str, lossy: bool
) -> None:
    pixels = np.random.default_rng(3).integers(0, 255, (24, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG2000", **options)
    built = assemble_instance(_meta(), _bulk({"px": ("image/jp2", buffer.getvalue())}))
    ds = _roundtrip(built.dataset)
    assert ds.file_meta.TransferSyntaxUID == JPEG_2000
    assert ds.PixelData[16:20] == b"\xff\x4f\xff\x51"  # the code stream, no JP2 boxes
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (24, 40, 3)
    assert ds.PhotometricInterpretation == photometric
    assert ("LossyImageCompression" in ds) is lossy
    decoded = ds.pixel_array
    assert decoded.shape == (24, 40, 3)
    if not lossy:
        assert np.array_equal(decoded, pixels)


def test_pixels_as_png_have_no_transfer_syntax() -> None:
    with pytest.raises(UnsupportedMediaType, match="image/png"):
        assemble_instance(_meta(), _bulk({"px": ("image/png", b"\x89PNG")}))


def _native(**extra: Any) -> dict[str, Any]:
    return _meta(
        **{
            "00280002": {"vr": "US", "Value": [1]},
            "00280004": {"vr": "CS", "Value": ["MONOCHROME2"]},
            "00280010": {"vr": "US", "Value": [4]},
            "00280011": {"vr": "US", "Value": [8]},
            "00280100": {"vr": "US", "Value": [16]},
            "00280101": {"vr": "US", "Value": [16]},
            "00280102": {"vr": "US", "Value": [15]},
            "00280103": {"vr": "US", "Value": [0]},
            "7FE00010": {"vr": "OW", "BulkDataURI": "px"},
        }
        | extra
    )


def test_octet_stream_pixels_are_native_explicit_little_endian() -> None:
    pixels = np.arange(32, dtype=np.uint16)
    bulk = _bulk({"px": ("application/octet-stream", pixels.tobytes())})
    ds = _roundtrip(assemble_instance(_native(), bulk).dataset)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(ds.pixel_array.ravel(), pixels)


def test_octet_stream_pixels_shorter_than_described_are_refused() -> None:
    bulk = _bulk({"px": ("application/octet-stream", b"\x00" * 10)})
    with pytest.raises(BadRequest, match="need 64"):
        assemble_instance(_native(), bulk)


def test_octet_stream_pixels_without_rows_are_refused() -> None:
    meta = _native()
    del meta["00280010"]
    bulk = _bulk({"px": ("application/octet-stream", b"\x00" * 64)})
    with pytest.raises(BadRequest, match="Rows"):
        assemble_instance(meta, bulk)


def test_an_unknown_bulk_data_uri_is_refused() -> None:
    with pytest.raises(BadRequest, match="no part"):
        assemble_instance(_meta(), _bulk({}))


def test_parse_metadata_reads_json_arrays_and_objects() -> None:
    item = {"00100020": {"vr": "LO", "Value": ["1"]}}
    assert parse_metadata("application/dicom+json", orjson.dumps([item, item])) == [item, item]
    assert parse_metadata("application/dicom+json", orjson.dumps(item)) == [item]


@pytest.mark.parametrize("data", [b"{not json", b"[]", b"[1, 2]", b'"text"'])
def test_parse_metadata_refuses_what_is_not_a_json_array_of_datasets(data: bytes) -> None:
    with pytest.raises(BadRequest, match="metadata part"):
        parse_metadata("application/dicom+json", data)


def test_parse_metadata_reads_one_native_dicom_model_document() -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel>'
        b'<DicomAttribute tag="00100020" vr="LO" keyword="PatientID">'
        b'<Value number="1">12345</Value></DicomAttribute>'
        b'<DicomAttribute tag="7FE00010" vr="OB" keyword="PixelData">'
        b'<BulkData uri="329800735"/></DicomAttribute></NativeDicomModel>'
    )
    [item] = parse_metadata("application/dicom+xml", xml)
    assert item["00100020"]["Value"] == ["12345"]
    assert item["7FE00010"]["BulkDataURI"] == "329800735"
