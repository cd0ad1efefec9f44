"""Build a DICOM instance from STOW-RS metadata plus bulk data parts (PS3.18 §10.5.1.4, §10.5.2).

A metadata part is a JSON array of DICOM JSON datasets (application/dicom+json, PS3.18 Annex F)
or one Native DICOM Model document (application/dicom+xml, PS3.19 Annex A). Binary values are
referenced by BulkDataURI and arrive as other parts, found by Content-Location or, for ``cid:``
URIs, by Content-ID (RFC 2392). Pixel Data may come as:

- application/octet-stream: native pixels, little endian (Explicit VR Little Endian);
- image/jpeg: encapsulated unchanged (PS3.18 Table 10.5.2-1 "Unchanged") in the transfer syntax
  of its JPEG process (PS3.5 §A.4.1): SOF0 baseline → .50, SOF1 extended → .51, SOF3 lossless →
  .57 (.70 for predictor 1); progressive, hierarchical and arithmetic-coded JPEG have only
  retired transfer syntaxes and are refused (failure C122, transfer syntax not supported);
- image/jp2 (or a bare JPEG 2000 code stream): the code stream without its JP2 boxes (PS3.5
  §A.4.4 forbids the JP2 header), as JPEG 2000 .91, which covers both reversible and
  irreversible coding.

For compressed pixel data the Image Pixel attributes may be omitted (§10.5.1.4): they are derived
from the bit stream, and values that contradict it are replaced (PS3.5 §8.2: the attributes
shall be consistent with the compressed data). Attributes the server has to supply (UIDs, the
Secondary Capture SOP class) or replace are coercions: they are listed in ``Assembled.coerced``
(the STOW response then carries WarningReason B000) and recorded in the stored object's Original
Attributes Sequence (0400,0561), as §10.5.2 requires.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydicom import DataElement, Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from openvna.dicom.json import DicomJson, json_to_dataset
from openvna.dicom.uid import generate_uid
from openvna.dicom.xml import xml_to_json
from openvna.errors import BadRequest, UnsupportedMediaType

__all__ = ["Assembled", "BulkLookup", "assemble_instance", "parse_metadata"]

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_2000 = "1.2.840.10008.1.2.4.91"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PIXEL_DATA = "7FE00010"

# A BulkDataURI → (media type of its part, a reader of its bytes); BadRequest for an unknown URI.
BulkLookup = Callable[[str], tuple[str, Callable[[], bytes]]]


@dataclass(frozen=True)
class Assembled:
    dataset: Dataset
    coerced: tuple[str, ...]  # keywords the server added or replaced (WarningReason B000)


@dataclass(frozen=True)
class _Pixels:
    """Image Pixel Description values read from a compressed bit stream."""

    transfer_syntax: str
    rows: int
    columns: int
    samples: int
    photometric: str
    bits_stored: int
    pixel_representation: int | None  # None: the stream does not tell (keep what was given)
    lossy: bool | None  # None: the stream does not tell
    method: str  # Lossy Image Compression Method (0028,2114), PS3.3 C.7.6.1.1.5.1

    @property
    def bits_allocated(self) -> int:
        return 8 if self.bits_stored <= 8 else (self.bits_stored + 7) // 8 * 8


def parse_metadata(media_type: str, data: bytes) -> list[DicomJson]:
    """The datasets of one metadata part: a JSON array (or object), or one XML document."""
    if media_type == "application/dicom+xml":
        return [xml_to_json(data)]
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"metadata part is not valid JSON: {exc}") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items or not all(isinstance(item, dict) for item in items):
        raise BadRequest("metadata part must be a JSON array of DICOM JSON datasets")
    return items


def assemble_instance(
    metadata: DicomJson, bulk: BulkLookup, study_uid: str | None = None
) -> Assembled:
    """Build the instance; raises BadRequest (cannot understand) or UnsupportedMediaType (no
    DICOM transfer syntax for the pixel data's media type)."""
    metadata = dict(metadata)
    pixel = metadata.get(PIXEL_DATA)
    compressed: tuple[bytes, _Pixels] | None = None
    if isinstance(pixel, dict) and "BulkDataURI" in pixel:
        media_type, read = bulk(str(pixel["BulkDataURI"]))
        if media_type != "application/octet-stream":
            compressed = _compressed_pixels(media_type, read())
            del metadata[PIXEL_DATA]
    ds = json_to_dataset(metadata, lambda uri: bulk(uri)[1]())
    originals: list[DataElement] = []
    if compressed is not None:
        _encapsulate(ds, *compressed, originals)
    else:
        _check_native(ds)
    _supply_identifiers(ds, study_uid, originals)
    if originals:
        _record_originals(ds, originals)
    return Assembled(ds, tuple(dict.fromkeys(element.keyword for element in originals)))


def _compressed_pixels(media_type: str, data: bytes) -> tuple[bytes, _Pixels]:
    if media_type == "image/jpeg":
        return data, _jpeg_pixels(data)
    if media_type in ("image/jp2", "image/j2k", "image/jp2k"):
        stream = _j2k_codestream(data)
        return stream, _j2k_pixels(stream)
    raise UnsupportedMediaType(
        f"Pixel Data as {media_type or 'an untyped part'} is not supported: send "
        "application/octet-stream, image/jpeg or image/jp2"
    )


def _encapsulate(ds: Dataset, data: bytes, info: _Pixels, originals: list[DataElement]) -> None:
    """One frame, one fragment, an empty Basic Offset Table (PS3.5 §A.4); pydicom pads the
    fragment to even length."""
    ds.PixelData = encapsulate([data], has_bot=False)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(info.transfer_syntax)
    derived: list[tuple[str, str, Any]] = [
        ("Rows", "US", info.rows),
        ("Columns", "US", info.columns),
        ("SamplesPerPixel", "US", info.samples),
        ("PhotometricInterpretation", "CS", info.photometric),
        ("BitsAllocated", "US", info.bits_allocated),
        ("BitsStored", "US", info.bits_stored),
        ("HighBit", "US", info.bits_stored - 1),
    ]
    if info.pixel_representation is not None or "PixelRepresentation" not in ds:
        derived.append(("PixelRepresentation", "US", info.pixel_representation or 0))
    if info.samples > 1:
        derived.append(("PlanarConfiguration", "US", 0))
    if "NumberOfFrames" in ds:
        derived.append(("NumberOfFrames", "IS", 1))
    if info.lossy:
        derived.append(("LossyImageCompression", "CS", "01"))
        derived.append(("LossyImageCompressionMethod", "CS", info.method))
    for keyword, vr, value in derived:
        _derive(ds, keyword, vr, value, originals)


def _derive(ds: Dataset, keyword: str, vr: str, value: Any, originals: list[DataElement]) -> None:
    """Set a value taken from the bit stream; a contradicting value given is a coercion."""
    if keyword in ds and ds[keyword].value not in (None, "", []):
        current = ds[keyword].value
        if str(current) == str(value):
            return
        originals.append(DataElement(ds[keyword].tag, ds[keyword].VR, current))
    setattr(ds, keyword, value)
    ds[keyword].VR = vr


def _check_native(ds: Dataset) -> None:
    """Native Pixel Data must hold every frame the Image Pixel attributes describe."""
    if "PixelData" not in ds:
        return
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    needed = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel")
    missing = [keyword for keyword in needed if ds.get(keyword) in (None, "")]
    if missing:
        raise BadRequest(
            f"native Pixel Data needs {', '.join(missing)}: the server cannot derive them "
            "from application/octet-stream"
        )
    frames = int(ds.get("NumberOfFrames") or 1)
    bits = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated)
    expected = (bits * frames + 7) // 8
    if len(ds.PixelData) < expected:
        raise BadRequest(
            f"Pixel Data holds {len(ds.PixelData)} bytes; {frames} frame(s) of "
            f"{ds.Rows}x{ds.Columns}x{ds.SamplesPerPixel} at {ds.BitsAllocated} bits need "
            f"{expected}"
        )


def _supply_identifiers(ds: Dataset, study_uid: str | None, originals: list[DataElement]) -> None:
    """Fill what the server can supply (PS3.18 §10.5.2 allows coercion); leave the rest for the
    archive's validation (a missing Study Instance UID without a target study fails there)."""

    def supply(keyword: str, vr: str, value: str) -> None:
        if ds.get(keyword) in (None, ""):
            originals.append(DataElement(keyword, vr, None))
            setattr(ds, keyword, value)

    if study_uid is not None:
        supply("StudyInstanceUID", "UI", study_uid)
    supply("SeriesInstanceUID", "UI", generate_uid())
    supply("SOPInstanceUID", "UI", generate_uid())
    if "PixelData" in ds and ds.get("SOPClassUID") in (None, ""):
        # An image without a SOP class becomes a Secondary Capture Image (PS3.3 A.8.1), whose
        # Type 1 Conversion Type (C.8.6.1) and Modality (C.7.3.1) are supplied with it.
        supply("SOPClassUID", "UI", SECONDARY_CAPTURE)
        supply("ConversionType", "CS", "WSD")
        supply("Modality", "CS", "OT")


def _record_originals(ds: Dataset, originals: list[DataElement]) -> None:
    """Original Attributes Sequence (PS3.3 C.12.1.1.9): the previous values (empty for
    attributes that were absent), who changed them, when and why."""
    previous = Dataset()
    for element in originals:
        if element.tag not in previous:
            previous.add(element)
    item = Dataset()
    item.AttributeModificationDateTime = datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f+0000")
    item.ModifyingSystem = "openvna"
    item.SourceOfPreviousValues = ""
    item.ReasonForTheAttributeModification = "COERCE"
    item.ModifiedAttributesSequence = [previous]
    ds.OriginalAttributesSequence = [*ds.get("OriginalAttributesSequence", []), item]


# -- JPEG (ISO/IEC 10918-1 Annex B) ---------------------------------------------------------------

_SOF_TRANSFER_SYNTAX = {0xC0: JPEG_BASELINE, 0xC1: JPEG_EXTENDED, 0xC3: JPEG_LOSSLESS}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_NOT_SOF = {0xC4, 0xC8, 0xCC}  # DHT, JPG (reserved), DAC share the SOFn range


def _jpeg_segments(data: bytes) -> dict[int, bytes]:
    """The first payload of each marker segment up to and including SOS (B.1.1.4)."""
    if data[:2] != b"\xff\xd8":
        raise BadRequest("image/jpeg part does not start with the JPEG SOI marker")
    segments: dict[int, bytes] = {}
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise BadRequest(f"image/jpeg part: no marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segments.setdefault(marker, data[position + 4 : position + 2 + length])
        if marker == 0xDA:
            return segments
        position += 2 + length
    raise BadRequest("image/jpeg part is truncated before its scan (SOS) header")


def _jpeg_pixels(data: bytes) -> _Pixels:
    segments = _jpeg_segments(data)
    sof = [marker for marker in segments if 0xC0 <= marker <= 0xCF and marker not in _NOT_SOF]
    if not sof:
        raise BadRequest("image/jpeg part has no frame header (SOFn)")
    marker = sof[0]
    if marker not in _SOF_TRANSFER_SYNTAX:
        raise UnsupportedMediaType(
            f"JPEG process SOF{marker - 0xC0} (progressive, hierarchical or arithmetic coding) "
            "has no active DICOM transfer syntax (PS3.5 Annex A); send baseline, extended or "
            "lossless JPEG"
        )
    header = segments[marker]
    precision, rows, columns, samples = struct.unpack(">BHHB", header[:6])
    if rows == 0 or samples not in (1, 3):
        raise BadRequest(f"JPEG with {samples} components and {rows} lines is not supported")
    syntax = _SOF_TRANSFER_SYNTAX[marker]
    lossless = syntax == JPEG_LOSSLESS
    if lossless and segments[0xDA][1 + 2 * segments[0xDA][0]] == 1:
        syntax = JPEG_LOSSLESS_SV1  # first-order prediction, Selection Value 1 (PS3.5 §8.2.1)
    photometric = "MONOCHROME2"
    if samples == 3:
        ids = bytes(header[6 + 3 * i] for i in range(3))
        adobe = segments.get(0xEE, b"")
        rgb = ids == b"RGB" or (adobe.startswith(b"Adobe") and adobe[11:12] == b"\x00")
        photometric = "RGB" if rgb or lossless else "YBR_FULL_422"  # PS3.5 Table 8.2.1-1
    representation = None if lossless else 0
    return _Pixels(
        syntax,
        rows,
        columns,
        samples,
        photometric,
        precision,
        representation,
        not lossless,
        "ISO_10918_1",
    )


# -- JPEG 2000 (ISO/IEC 15444-1 Annexes A and I) --------------------------------------------------

_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def _j2k_codestream(data: bytes) -> bytes:
    """The contiguous code stream box of a JP2 file (I.5.4), or the data if already bare."""
    if data.startswith(b"\xff\x4f\xff\x51"):
        return data
    if not data.startswith(_JP2_SIGNATURE):
        raise BadRequest("image/jp2 part is neither a JP2 file nor a JPEG 2000 code stream")
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif length == 0:
            length = len(data) - position
        if kind == b"jp2c":
            return data[position + header : position + length]
        if length < header:
            break
        position += length
    raise BadRequest("image/jp2 part holds no code stream box (jp2c)")


def _j2k_pixels(stream: bytes) -> _Pixels:
    if not stream.startswith(b"\xff\x4f\xff\x51"):
        raise BadRequest("JPEG 2000 code stream does not start with SOC and SIZ markers")
    x, y, x0, y0 = struct.unpack(">IIII", stream[8:24])
    (samples,) = struct.unpack(">H", stream[40:42])
    depth = stream[42]
    if samples not in (1, 3):
        raise BadRequest(f"JPEG 2000 code stream with {samples} components is not supported")
    cod = _j2k_cod(stream)
    mct, reversible = cod[4], cod[9] == 1
    photometric = "MONOCHROME2"
    if samples == 3:
        # PS3.5 §8.2.4: the multi-component transform fixes the Photometric Interpretation.
        photometric = ("YBR_RCT" if reversible else "YBR_ICT") if mct else "RGB"
    lossy = None if reversible else True  # reversible coding may still have been truncated
    bits, signed = (depth & 0x7F) + 1, depth >> 7
    return _Pixels(
        JPEG_2000, y - y0, x - x0, samples, photometric, bits, signed, lossy, "ISO_15444_1"
    )


def _j2k_cod(stream: bytes) -> bytes:
    """The payload of the main header's COD marker segment (A.6.1), walking the segments."""
    position = 2
    while position + 4 <= len(stream):
        marker, length = struct.unpack(">HH", stream[position : position + 4])
        if marker == 0xFF52 and length >= 12:
            return stream[position + 4 : position + 2 + length]
        if marker == 0xFF90:  # SOT: the main header ended without COD
            break
        position += 2 + length
    raise BadRequest("JPEG 2000 code stream has no coding style (COD) marker segment")
