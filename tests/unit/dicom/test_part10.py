"""Part 10 headers: Pixel Data and frames located in the file, truncation refused, File Meta."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.uid import (
    MPEG2MPML,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

from openvna.dicom.part10 import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    Header,
    part10_bytes,
    read_header,
    write_part10,
)
from openvna.dicom.uid import is_valid_uid
from openvna.errors import InvalidDicom


def sample(name: str) -> Path:
    found = get_testdata_file(name)
    assert found, name
    return Path(found)


def frame_bytes(path: Path, header: Header) -> list[bytes]:
    data = path.read_bytes()
    return [b"".join(data[o : o + n] for o, n in frame) for frame in header.frames]


def image(frames: int = 1, rows: int = 4, columns: int = 4, bits: int = 8) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "Test^Frames"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = frames
    return ds


def write(ds: Dataset, path: Path, syntax: str = ExplicitVRLittleEndian) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    write_part10(ds, path)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "rtdose.dcm",
        "SC_rgb_small_odd.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
    ],
)
def test_native_pixel_data_and_frames_match_pydicom(name: str) -> None:
    path = sample(name)
    header = read_header(path)
    full = pydicom.dcmread(path)
    location = header.pixel_data
    assert location is not None and not location.encapsulated
    assert "PixelData" not in header.dataset
    assert header.dataset.SOPInstanceUID == full.SOPInstanceUID
    assert header.transfer_syntax == full.file_meta.TransferSyntaxUID
    assert header.file_size == path.stat().st_size
    data = path.read_bytes()
    assert data[location.offset : location.offset + location.length] == full.PixelData
    frames = frame_bytes(path, header)
    count = int(full.get("NumberOfFrames") or 1)
    size = len(frames[0])
    assert len(frames) == count
    assert frames == [full.PixelData[i * size : (i + 1) * size] for i in range(count)]


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "JPEG-lossy.dcm",
        "MR_small_RLE.dcm",
        "SC_rgb_rle_2frame.dcm",
        "rtdose_rle.dcm",
        "examples_ybr_color.dcm",
        "JPEG2000-embedded-sequence-delimiter.dcm",
    ],
)
def test_encapsulated_frames_match_pydicom(name: str) -> None:
    path = sample(name)
    header = read_header(path)
    full = pydicom.dcmread(path)
    location = header.pixel_data
    assert location is not None and location.encapsulated and location.vr in ("OB", "OW")
    data = path.read_bytes()
    assert data[location.offset : location.offset + location.length] == full.PixelData
    assert data[location.offset + location.length : location.offset + location.length + 4] == (
        b"\xfe\xff\xdd\xe0"
    )
    count = int(full.get("NumberOfFrames") or 1)
    assert frame_bytes(path, header) == list(
        generate_frames(full.PixelData, number_of_frames=count)
    )


def encapsulated_file(tmp_path: Path, fragments_per_frame: int, has_bot: bool) -> Path:
    frames = [b"\xff\xd8" + bytes([i]) * (40 + i) + b"\xff\xd9" for i in range(3)]
    ds = image(frames=3)
    ds.PixelData = encapsulate(frames, fragments_per_frame=fragments_per_frame, has_bot=has_bot)
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    return write(ds, tmp_path / "multi.dcm", JPEGBaseline8Bit)


@pytest.mark.parametrize(("per_frame", "has_bot"), [(2, True), (2, False), (3, False), (1, False)])
def test_fragments_are_grouped_into_frames(tmp_path: Path, per_frame: int, has_bot: bool) -> None:
    path = encapsulated_file(tmp_path, per_frame, has_bot)
    header = read_header(path)
    assert all(len(frame) == per_frame for frame in header.frames)
    expected = [b"\xff\xd8" + bytes([i]) * (40 + i) + b"\xff\xd9" for i in range(3)]
    assert [f.rstrip(b"\x00") for f in frame_bytes(path, header)] == [
        e.rstrip(b"\x00") for e in expected
    ]


def test_extended_offset_table_is_used(tmp_path: Path) -> None:
    frames = [bytes([i]) * 20 for i in range(3)]
    ds = image(frames=3)
    data, offsets, lengths = encapsulate_extended(frames)
    ds.PixelData = data
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    ds.ExtendedOffsetTable = offsets
    ds.ExtendedOffsetTableLengths = lengths
    path = write(ds, tmp_path / "eot.dcm", JPEGBaseline8Bit)
    assert frame_bytes(path, read_header(path)) == frames


def test_unknowable_frame_boundaries_give_no_frames(tmp_path: Path) -> None:
    # four fragments, three frames, no offset table and no end-of-image markers
    ds = image(frames=3)
    ds.PixelData = encapsulate([b"\x01" * 8, b"\x02" * 8], fragments_per_frame=2, has_bot=False)
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    path = write(ds, tmp_path / "odd.dcm", JPEGBaseline8Bit)
    header = read_header(path)
    assert header.pixel_data is not None and header.frames == ()


def test_video_has_no_frame_spans(tmp_path: Path) -> None:
    ds = image(frames=3)
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60], has_bot=False)
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    path = write(ds, tmp_path / "video.dcm", MPEG2MPML)
    header = read_header(path)
    assert header.pixel_data is not None and header.pixel_data.encapsulated
    assert header.frames == ()


def test_one_bit_frames_are_counted_in_bits(tmp_path: Path) -> None:
    ds = image(frames=3, rows=3, columns=3, bits=1)
    ds.PixelData = b"\xaa\x55\xff\x01"  # 27 bits of 3 frames, padded to 4 bytes
    path = write(ds, tmp_path / "bits.dcm")
    header = read_header(path)
    assert header.pixel_data is not None
    start = header.pixel_data.offset
    assert header.frames == (((start, 2),), ((start + 1, 2),), ((start + 2, 2),))


def test_deflated_file_is_read_without_pixel_location() -> None:
    header = read_header(sample("image_dfl.dcm"))
    assert header.deflated and header.transfer_syntax == DeflatedExplicitVRLittleEndian
    assert header.pixel_data is None and header.frames == ()  # no file offset reaches them
    assert "PixelData" not in header.dataset and "SOPInstanceUID" in header.dataset


def test_file_without_pixel_data() -> None:
    header = read_header(sample("rtplan.dcm"))
    assert header.pixel_data is None and header.frames == ()
    assert header.dataset.Modality == "RTPLAN"


def cut(source: Path, tmp_path: Path, size: int) -> Path:
    target = tmp_path / f"cut-{size}.dcm"
    target.write_bytes(source.read_bytes()[:size])
    return target


def test_truncated_native_pixel_data_is_refused(tmp_path: Path) -> None:
    path = sample("CT_small.dcm")  # Pixel Data is followed by 138 bytes of trailing padding
    with pytest.raises(InvalidDicom, match="declares 32768 bytes but the file holds only"):
        read_header(cut(path, tmp_path, path.stat().st_size - 200))
    with pytest.raises(InvalidDicom, match="after Pixel Data"):
        read_header(cut(path, tmp_path, path.stat().st_size - 10))


@pytest.mark.parametrize("size", [140, 250, 405, 1000, 1500])
def test_truncated_header_is_refused(tmp_path: Path, size: int) -> None:
    with pytest.raises(InvalidDicom, match=r"truncated|not a valid"):
        read_header(cut(sample("CT_small.dcm"), tmp_path, size))


def test_truncated_sequence_is_refused() -> None:
    with pytest.raises(InvalidDicom, match="truncated"):
        read_header(sample("rtplan_truncated.dcm"))


@pytest.mark.parametrize("missing", [3, 4, 30, 300])
def test_truncated_encapsulated_pixel_data_is_refused(tmp_path: Path, missing: int) -> None:
    path = sample("SC_rgb_rle_2frame.dcm")
    with pytest.raises(InvalidDicom, match="truncated"):
        read_header(cut(path, tmp_path, path.stat().st_size - missing))


def test_native_pixel_data_shorter_than_its_frames_is_refused(tmp_path: Path) -> None:
    ds = image(frames=2)
    ds.PixelData = b"\x00" * 20  # two 4x4 frames need 32 bytes
    with pytest.raises(InvalidDicom, match="holds 20 bytes but 2 frame"):
        read_header(write(ds, tmp_path / "short.dcm"))


def test_bad_number_of_frames_is_refused() -> None:
    with pytest.raises(InvalidDicom, match=r"\(0028,0008\) has the value '1A'"):
        read_header(sample("badVR.dcm"))


_NOISE = random.Random(2026)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not dicom at all",
        _NOISE.randbytes(2000),
        b"\x00" * 128 + b"DICM" + _NOISE.randbytes(500),
    ],
    ids=["empty", "text", "noise", "preamble-then-noise"],
)
def test_non_dicom_bytes_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.dcm"
    path.write_bytes(content)
    with pytest.raises(InvalidDicom, match=r"garbage\.dcm"):
        read_header(path)


def test_file_without_preamble_or_transfer_syntax_is_refused() -> None:
    with pytest.raises(InvalidDicom, match="no 'DICM' at byte 128"):
        read_header(sample("no_meta.dcm"))
    with pytest.raises(InvalidDicom, match=r"no Transfer Syntax UID \(0002,0010\)"):
        read_header(sample("meta_missing_tsyntax.dcm"))


def test_part10_bytes_writes_preamble_and_openvna_file_meta() -> None:
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    ds.preamble = None  # CT_small's own preamble is a TIFF header
    data = part10_bytes(ds)
    assert data[:128] == b"\x00" * 128 and data[128:132] == b"DICM"
    again = pydicom.dcmread(io.BytesIO(data))
    meta = again.file_meta
    assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == IMPLEMENTATION_VERSION_NAME == "OPENVNA_010"
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert is_valid_uid(IMPLEMENTATION_CLASS_UID) and IMPLEMENTATION_CLASS_UID.startswith("2.25.")
    assert again.PixelData == ds.PixelData


def test_write_part10_keeps_the_transfer_syntax_and_reads_back(tmp_path: Path) -> None:
    ds = image(frames=2)
    ds.PixelData = bytes(range(32))
    path = write(ds, tmp_path / "implicit.dcm", ImplicitVRLittleEndian)
    header = read_header(path)
    assert header.transfer_syntax == ImplicitVRLittleEndian
    assert frame_bytes(path, header) == [bytes(range(16)), bytes(range(16, 32))]
    assert header.dataset.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID


def test_write_part10_needs_the_sop_uids(tmp_path: Path) -> None:
    ds = Dataset()
    ds.PatientName = "No^Uids"
    with pytest.raises(InvalidDicom, match="without SOPClassUID and SOPInstanceUID"):
        part10_bytes(ds)
    assert not (tmp_path / "x.dcm").exists()


def test_truncated_deflated_file_is_refused(tmp_path: Path) -> None:
    path = sample("image_dfl.dcm")
    with pytest.raises(InvalidDicom, match="image_dfl"):
        read_header(cut(path, tmp_path, path.stat().st_size - 100).rename(tmp_path / "image_dfl"))


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm"],
)
def test_header_read_fast_or_by_pydicom_is_the_same(name: str) -> None:
    """The fast reader of plain explicit VR little endian headers yields exactly the raw
    elements, File Meta and encoding pydicom's reader gives (sequences and character sets
    included)."""
    assert_same_as_pydicom(sample(name))


def test_fast_header_decodes_with_the_character_set(tmp_path: Path) -> None:
    ds = image()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    ds.PixelData = bytes(16)
    path = write(ds, tmp_path / "utf8.dcm")
    assert_same_as_pydicom(path)
    assert str(read_header(path).dataset.PatientName) == "Yamada^Tarou=山田^太郎"


@pytest.mark.parametrize(
    ("charset", "study_vr"),
    [
        (["ISO 2022 IR 6", "ISO 2022 IR 87"], "UI"),
        ("ISO_IR 100", "LO"),
        ("", "UI"),
    ],
)
def test_fast_header_converts_the_identifying_elements_as_pydicom(
    tmp_path: Path, charset: str | list[str], study_vr: str
) -> None:
    """The UIDs every store reads and the character set come already converted from the fast
    reader, with pydicom's own values (multi-valued and empty ones too); an element with an
    unexpected VR is left raw for pydicom."""
    ds = image()
    ds.SpecificCharacterSet = charset
    ds.add_new(0x0020000D, study_vr, "1.2.3.4")
    ds.SeriesInstanceUID = "1.2.3.4.5\\1.2.3.4.6"
    ds.PixelData = bytes(16)
    path = write(ds, tmp_path / "eager.dcm")
    assert_same_as_pydicom(path)
    elements = read_header(path).dataset
    for tag in (0x00080005, 0x00080016, 0x00080018, 0x0020000E):
        assert isinstance(elements.get_item(tag), DataElement), f"{tag:08X}"
    assert isinstance(elements.get_item(0x0020000D), DataElement) == (study_vr == "UI")
    assert elements.SeriesInstanceUID == ["1.2.3.4.5", "1.2.3.4.6"]


def assert_same_as_pydicom(path: Path) -> None:
    header = read_header(path)
    reference = pydicom.dcmread(path, stop_before_pixels=True)
    assert header.dataset.original_encoding == reference.original_encoding
    assert header.dataset.file_meta == reference.file_meta
    assert header.dataset.preamble == reference.preamble
    assert set(header.dataset.keys()) == set(reference.keys())
    for tag in sorted(reference.keys()):
        assert header.dataset[tag] == reference[tag], tag


def test_header_that_is_not_plain_goes_through_pydicom(tmp_path: Path) -> None:
    """Undefined-length sequences, and files cut inside the header, take pydicom's path: the
    same dataset, the same refusal."""
    ds = image()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    item = Dataset()
    item.CodeValue = "113100"
    ds.ProcedureCodeSequence = [item]
    ds.PixelData = bytes(16)
    path = write(ds, tmp_path / "seq.dcm")
    data = bytearray(path.read_bytes())
    assert_same_as_pydicom(path)
    header = read_header(path)
    assert header.dataset.ProcedureCodeSequence[0].CodeValue == "113100"
    assert header.pixel_data is not None
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(bytes(data[: header.pixel_data.offset - 30]))
    with pytest.raises(InvalidDicom, match="truncated"):
        read_header(cut)
