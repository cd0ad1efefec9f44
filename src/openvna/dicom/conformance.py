"""What a stored object must be for the archive to serve it faithfully, checked at ingest.

An archive that stores whatever parses serves it back as if it were valid: a file whose
Transfer Syntax says JPEG Baseline over native pixels comes back from ``/frames`` as
``image/jpeg`` holding raw samples. So every door's store path asks :func:`flaws` of each
parsed header before anything is written. The checks read what the header parse already
located and a few bytes at the start of each frame; nothing is decoded (a decoder per syntax
at ingest would cost more than the rest of the store).

Two kinds of flaw, so that a door can give each its PS3.4 Annex B status:

- ``ENCODING``: the bytes do not say what the header claims (unknown transfer syntax, native
  pixels under an encapsulated syntax or the reverse, a frame that does not start like its
  codec's stream): 0xC000 "cannot understand".
- ``IOD``: the data set is not a valid instance of a composite IOD (a Type 1 attribute of the
  patient/study/series/instance or image pixel modules missing, File Meta identifying another
  instance, no frames): 0xA900 "data set does not match SOP class".

Type 2 attributes (Patient ID, Study Date...) are not required to hold a value and real
modalities leave some out; their absence is not a flaw here, as in Orthanc and dcm4chee.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID, AllTransferSyntaxes, DeflatedExplicitVRLittleEndian

from openvna.dicom.part10 import Header
from openvna.dicom.tags import vr_of

__all__ = ["KNOWN_TRANSFER_SYNTAXES", "Flaw", "FlawKind", "flaws"]


class FlawKind(Enum):
    ENCODING = "encoding"
    IOD = "iod"


@dataclass(frozen=True)
class Flaw:
    """One thing wrong with an instance, in words its sender can act on."""

    kind: FlawKind
    text: str


# PS3.6 Table A-1, as pydicom knows it, plus the retired JPEG processes and JPIP, which old
# archives still hold (PS3.5 Annex A lists them as retired, not forbidden to store).
_RETIRED: Final = frozenset(
    f"1.2.840.10008.1.2.4.{n}" for n in (52, 53, 54, 55, 56, 58, 59, 60, 61, 62, 63, 64, 65, 66)
) | {"1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.95"}
KNOWN_TRANSFER_SYNTAXES: Final = frozenset(str(uid) for uid in AllTransferSyntaxes) | _RETIRED

# The first bytes of one frame, by codec (PS3.5 A.4.1-A.4.6, A.4.10): JPEG and JPEG-LS open
# with SOI; JPEG 2000 and HTJ2K with SOC then SIZ, or a JP2 signature box.
_SOI: Final = b"\xff\xd8"
_J2K: Final = b"\xff\x4f\xff\x51"
_JP2: Final = b"\x00\x00\x00\x0cjP  "
_JPEG_FAMILY: Final = frozenset(f"1.2.840.10008.1.2.4.{n}" for n in (50, 51, 57, 70, 80, 81)) | {
    s for s in _RETIRED if s.rsplit(".", 1)[1] not in ("94", "95")
}
_JPEG_2000_FAMILY: Final = frozenset(
    f"1.2.840.10008.1.2.4.{n}" for n in (90, 91, 92, 93, 201, 202, 203)
)
_RLE: Final = "1.2.840.10008.1.2.5"

# Type 1 attributes every composite instance has (PS3.3 C.7.2.1 General Study, C.7.3.1
# General Series, C.12.1 SOP Common); the UIDs are checked by the store itself.
_MODALITY: Final = 0x00080060
# Image Pixel module Type 1 attributes (PS3.3 C.7.6.3), and those of float pixel data
# (C.7.6.24, which has no Bits Stored, High Bit or Pixel Representation).
_IMAGE_PIXEL: Final = {
    0x00280002: "SamplesPerPixel",
    0x00280004: "PhotometricInterpretation",
    0x00280010: "Rows",
    0x00280011: "Columns",
    0x00280100: "BitsAllocated",
    0x00280101: "BitsStored",
    0x00280102: "HighBit",
    0x00280103: "PixelRepresentation",
}
_FLOAT_PIXEL: Final = {tag: name for tag, name in _IMAGE_PIXEL.items() if tag <= 0x00280100}
_NUMBER_OF_FRAMES: Final = 0x00280008

_BINARY_VRS: Final = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT", "OB", "OW"})
# Whether a frame's first bytes (up to 64) and its length look like the codec's stream.
_FrameCheck = Callable[[bytes, int], bool]


def flaws(path: Path, header: Header) -> list[Flaw]:
    """Everything wrong with the parsed instance at ``path``; empty when it can be stored."""
    found: list[Flaw] = []
    syntax = header.transfer_syntax
    if syntax not in KNOWN_TRANSFER_SYNTAXES:
        found.append(
            Flaw(
                FlawKind.ENCODING,
                f"Transfer Syntax UID {syntax[:64]} is not a DICOM transfer syntax "
                "(PS3.6 Table A-1)",
            )
        )
    found += _file_meta_flaws(header.dataset)
    if not _has_value(header.dataset, _MODALITY):
        found.append(Flaw(FlawKind.IOD, "Modality (0008,0060), Type 1, is missing or empty"))
    if header.pixel_data is not None or "PixelData" in header.dataset:
        found += _image_flaws(header)
    if header.pixel_data is not None and syntax in KNOWN_TRANSFER_SYNTAXES and not found:
        found += _pixel_encoding_flaws(path, header)
    return found


def _file_meta_flaws(ds: Dataset) -> list[Flaw]:
    """PS3.10 §7.1: File Meta's Media Storage SOP Class/Instance UIDs are the data set's."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return []
    found = []
    for meta_keyword, keyword in (
        ("MediaStorageSOPInstanceUID", "SOPInstanceUID"),
        ("MediaStorageSOPClassUID", "SOPClassUID"),
    ):
        in_meta = str(meta.get(meta_keyword, "") or "")
        in_dataset = str(ds.get(keyword, "") or "")
        if in_meta and in_meta != in_dataset:
            found.append(
                Flaw(
                    FlawKind.IOD,
                    f"File Meta {meta_keyword} {in_meta[:64]} differs from the data set's "
                    f"{keyword} {in_dataset[:64]} (PS3.10 §7.1)",
                )
            )
    return found


def _image_flaws(header: Header) -> list[Flaw]:
    """The Image Pixel module's Type 1 attributes and a frame count of at least one."""
    ds = header.dataset
    floating = header.pixel_data is not None and header.pixel_data.vr in ("OF", "OD")
    required = _FLOAT_PIXEL if floating else _IMAGE_PIXEL
    missing = [name for tag, name in required.items() if not _has_value(ds, tag)]
    found = []
    if missing:
        found.append(
            Flaw(
                FlawKind.IOD,
                f"an image without {', '.join(missing)} (Image Pixel module, PS3.3 C.7.6.3)",
            )
        )
    frames = ds.get_item(_NUMBER_OF_FRAMES)
    if frames is not None and frames.value not in (None, b"", ""):
        value = frames.value
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if text.strip("\0 ").lstrip("+").isdigit() and int(text.strip("\0 ")) < 1:
            found.append(
                Flaw(
                    FlawKind.IOD,
                    f"Number of Frames (0028,0008) is {text.strip(chr(0) + ' ')}: an image "
                    "has at least one frame (PS3.3 C.7.6.6)",
                )
            )
    return found


def _pixel_encoding_flaws(path: Path, header: Header) -> list[Flaw]:
    """Native pixels under a native syntax, fragments under an encapsulated one, and each
    frame opening like a stream of the syntax's codec."""
    location = header.pixel_data
    assert location is not None
    syntax = UID(header.transfer_syntax)
    if syntax == DeflatedExplicitVRLittleEndian:
        return []
    if syntax.is_encapsulated and not location.encapsulated:
        return [
            Flaw(
                FlawKind.ENCODING,
                f"the transfer syntax {syntax} ({syntax.name}) is compressed but Pixel Data "
                "has a defined length: its pixels are native, not encapsulated (PS3.5 A.4)",
            )
        ]
    if location.encapsulated and not syntax.is_encapsulated:
        return [
            Flaw(
                FlawKind.ENCODING,
                f"Pixel Data is encapsulated (fragments) but the transfer syntax {syntax} "
                f"({syntax.name}) is native (PS3.5 A.4)",
            )
        ]
    if not location.encapsulated:
        return []
    return _frame_marker_flaws(path, header)


def _frame_marker_flaws(path: Path, header: Header) -> list[Flaw]:
    syntax = header.transfer_syntax
    check = _frame_check(syntax)
    if check is None or not header.frames:
        return []
    fd = os.open(path, os.O_RDONLY)
    try:
        for number, spans in enumerate(header.frames, start=1):
            offset, length = spans[0]
            head = os.pread(fd, min(length, 64), offset)
            if not check(head, sum(span[1] for span in spans)):
                return [
                    Flaw(
                        FlawKind.ENCODING,
                        f"frame {number} does not start like a {UID(syntax).name} stream: its "
                        f"first bytes are {head[:8].hex(' ')}",
                    )
                ]
    finally:
        os.close(fd)
    return []


def _frame_check(syntax: str) -> _FrameCheck | None:
    if syntax in _JPEG_FAMILY:
        return _starts_jpeg
    if syntax in _JPEG_2000_FAMILY:
        return _starts_jpeg_2000
    if syntax == _RLE:
        return _starts_rle
    return None  # video and other syntaxes: frames are not located one by one


def _starts_jpeg(head: bytes, length: int) -> bool:
    return head.startswith(_SOI)


def _starts_jpeg_2000(head: bytes, length: int) -> bool:
    return head.startswith(_J2K) or head.startswith(_JP2)


def _starts_rle(head: bytes, length: int) -> bool:
    """The RLE header (PS3.5 G.3.1): 1 to 15 segments, the first starting at byte 64, each
    offset within the frame."""
    if len(head) < 64:
        return False
    count, *offsets = struct.unpack("<16L", head)
    used = offsets[:count]
    return 1 <= count <= 15 and used[0] == 64 and used == sorted(used) and used[-1] < length


def _has_value(ds: Dataset, tag: int) -> bool:
    """Whether ``tag`` is present with a non-blank value, without converting the element."""
    element = ds.get_item(tag)
    if element is None:
        return False
    value = element.value
    if isinstance(element, RawDataElement) and isinstance(value, bytes):
        # Text is padded with spaces (or NULs for UI); a binary 0 is a value.
        vr = element.VR or vr_of(tag)  # implicit VR: from the dictionary
        return bool(value.strip(b"\0 ") if vr not in _BINARY_VRS else value)
    return value not in (None, "", b"") and not (isinstance(value, str) and not value.strip())
