"""DICOM Part 10 files (PS3.10 §7): read a header without the pixels, write with File Meta.

Ingest parses each file once: pydicom reads the header and stops at Pixel Data, then this module
reads the Pixel Data element's own header to record where its value and each frame lie, so that
frames and bulk data are later served straight from the stored file. Anything that is not a
complete Part 10 file is refused here, with a message saying what is wrong.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.charset import default_encoding
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import ReadableBuffer
from pydicom.filereader import ENCODED_VR
from pydicom.filewriter import dcmwrite
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32
from pydicom.values import convert_value

from openvna.dicom.frames import Span, encapsulated_frames, native_frames, read_fragments
from openvna.dicom.tags import vr_of
from openvna.errors import InvalidDicom

__all__ = [
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "Header",
    "PixelDataLocation",
    "part10_bytes",
    "read_header",
    "write_part10",
]

IMPLEMENTATION_CLASS_UID = "2.25.137951126384087076590348685453396475920"
"""openvna's Implementation Class UID (PS3.7 D.3.3.2), a fixed UUID-derived UID (PS3.5 B.2)."""
IMPLEMENTATION_VERSION_NAME = "OPENVNA_010"

_PIXEL_VRS = {0x7FE00008: "OF", 0x7FE00009: "OD", 0x7FE00010: "OW"}
_UNDEFINED = 0xFFFFFFFF
# The fast header reader looks at this many bytes; a longer header goes through pydicom.
_FAST_HEAD = 64 * 1024
_TRANSFER_SYNTAX = BaseTag(0x00020010)
# The element dictionary of a pydicom Dataset; the fast reader fills it with raw elements, but
# for the few it converts at once (_EAGER).
_Elements = dict[BaseTag, DataElement | RawDataElement]
_SHORT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<L")
# The explicit VRs as read from a file: the VR and whether its length takes 4 bytes after 2
# reserved ones (PS3.5 §7.1.2).
_VR_OF_BYTES = {
    code: (code.decode("ascii"), code.decode("ascii") in EXPLICIT_VR_LENGTH_32)
    for code in ENCODED_VR
    if len(code) == 2
}
_LONG_VRS = frozenset(code for code, (_, long) in _VR_OF_BYTES.items() if long)
# Groups the fast reader leaves to pydicom: items and, in the data set, command or File Meta.
_UNUSUAL_IN_META = frozenset({0xFFFE})
_UNUSUAL_IN_DATASET = frozenset({0x0000, 0x0002, 0xFFFE})
# Elements converted as soon as they are read (see _convert_eagerly), when they have this VR.
_EAGER = {
    BaseTag(0x00080005): "CS",
    BaseTag(0x00080016): "UI",
    BaseTag(0x00080018): "UI",
    BaseTag(0x0020000D): "UI",
    BaseTag(0x0020000E): "UI",
}
# Transfer syntaxes whose data set is not explicit VR little endian as stored.
_NOT_FAST = frozenset({ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian})


@dataclass(frozen=True)
class PixelDataLocation:
    """Where the Pixel Data value is: ``offset`` of its first byte and its ``length``.

    For encapsulated data the length runs up to, not including, the Sequence Delimiter.
    """

    vr: str
    offset: int
    length: int
    encapsulated: bool


@dataclass(frozen=True)
class Header:
    """A parsed Part 10 file: its data set without Pixel Data, and where the pixels are.

    ``frames`` has per frame the (file offset, length) spans of its bytes (one for native data,
    one per fragment for encapsulated data); it is empty when frames cannot be located in the
    file (video, fragments that match no frame table). With the Deflated transfer syntax
    (PS3.5 A.5) the pixels lie inside the compressed stream, where no file offset can reach
    them: they are checked for completeness, but ``pixel_data`` is None and ``frames`` empty.
    """

    dataset: Dataset
    transfer_syntax: str
    pixel_data: PixelDataLocation | None
    frames: tuple[tuple[Span, ...], ...]
    file_size: int

    @property
    def deflated(self) -> bool:
        return self.transfer_syntax == DeflatedExplicitVRLittleEndian


class _Truncated(Exception):
    """Raised by :class:`_StrictReader`; not an EOFError, which pydicom turns into a warning."""


class _StrictReader(io.RawIOBase):
    """A file wrapper that turns pydicom's silent short reads into errors.

    pydicom keeps a value cut short by the end of the file; here a read that returns some but
    not all of the bytes asked for, or none of a value longer than a tag, means truncation.
    """

    def __init__(self, raw: BinaryIO, size: int) -> None:
        super().__init__()
        self._raw = raw
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        data = self._raw.read(-1 if n is None else n)
        if n is not None and n > 0 and len(data) < n and (data or n not in (1, 8)):
            raise _Truncated(f"the file ends at byte {self._size}, inside a data element")
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def read_header(path: Path) -> Header:
    """Parse the Part 10 file at ``path`` up to Pixel Data and locate its value and frames.

    Raises
    ------
    InvalidDicom
        The file has no preamble and ``DICM`` prefix, no Transfer Syntax UID, a header that does
        not parse, or is truncated anywhere, including in the Pixel Data.
    """
    try:
        return _read_header(path)
    except (InvalidDicom, OSError):
        raise
    except Exception as exc:
        # pydicom fails in many ways on hostile values while converting them (fuzzing found
        # ValueError and KeyError from a Specific Character Set with a NUL, BytesLengthException
        # from a File Meta group length of one byte...): whatever it is, the file is refused
        # with what pydicom said, and the server goes on.
        raise InvalidDicom(f"{path.name} has a malformed DICOM header: {exc}") from exc


def _read_header(path: Path) -> Header:
    with path.open("rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        head = raw.read(min(size, _FAST_HEAD))
        if size < 132 or head[128:132] != b"DICM":
            raise InvalidDicom(f"{path.name} is not a DICOM Part 10 file: no 'DICM' at byte 128")
        fast = _fast_parse(head, raw, size)
        if fast is None:
            raw.seek(0)
            ds = _parse(_StrictReader(raw, size), path.name)
            syntax = str(ds.file_meta.get("TransferSyntaxUID", "") or "")
            position = ds.buffer.tell() if ds.buffer is not None else size
        else:
            ds, syntax, position = fast
        if not syntax:
            raise InvalidDicom(f"{path.name} has no Transfer Syntax UID (0002,0010)")
        stream: ReadableBuffer = raw
        stream_size = size
        if syntax == DeflatedExplicitVRLittleEndian and ds.buffer is not None:
            stream = ds.buffer  # the inflated data set (a DicomBytesIO), positioned by pydicom
            stream_size = stream.seek(0, io.SEEK_END)
        ds.buffer = None
        location, frames = _locate_pixels(stream, position, stream_size, ds, syntax)
    if syntax == DeflatedExplicitVRLittleEndian:
        return Header(ds, syntax, None, (), size)
    return Header(ds, syntax, location, frames, size)


def _fast_parse(head: bytes, raw: BinaryIO, size: int) -> tuple[FileDataset, str, int] | None:
    """The header of a plain explicit VR little endian file, read without pydicom's reader:
    the data set, its transfer syntax and the file position where the data set stops.

    pydicom's element generator was the largest cost of ingest. This reads the File Meta group
    and the data set up to Pixel Data from ``head``, the first bytes of the file, into the same
    raw elements pydicom makes, for files that hold no surprise: little endian explicit VR (not
    deflated), known VRs, defined lengths, no command group. Anything else, truncation
    included, gives None and the file goes through pydicom's reader, which decides (and words
    the error).
    """
    whole = len(head) == size
    meta, position = _fast_elements(head, 132, True, whole)
    if meta is None:
        return None
    syntax = meta.get(_TRANSFER_SYNTAX)
    if not isinstance(syntax, RawDataElement) or syntax.value is None:
        return None
    uid = syntax.value.rstrip(b"\x00 ").decode("latin-1")
    if uid in _NOT_FAST:
        return None
    elements, end = _fast_elements(head, position, False, whole)
    if elements is None:
        return None
    _convert_eagerly(elements)
    file_meta = FileMetaDataset(meta)
    file_meta.set_original_encoding(False, True, default_encoding)
    reader = _StrictReader(raw, size)
    ds = FileDataset(reader, elements, head[:128], file_meta, False, True)
    ds.set_original_encoding(False, True, ds._character_set)
    return ds, uid, end


def _convert_eagerly(elements: _Elements) -> None:
    """Convert the elements every store reads by keyword (the identifying UIDs, the Specific
    Character Set) as ``Dataset.__getitem__`` would, through pydicom's own value converter
    but without its per-access machinery, which costs several times the conversion."""
    for tag, vr in _EAGER.items():
        element = elements.get(tag)
        if isinstance(element, RawDataElement) and vr == element.VR:
            value = convert_value(vr, element)
            elements[tag] = DataElement(
                tag, vr, value, element.value_tell, False, already_converted=True
            )


def _fast_elements(
    head: bytes, position: int, meta: bool, whole: bool
) -> tuple[_Elements | None, int]:
    """Raw elements from ``position`` until the end of the File Meta group (``meta``) or Pixel
    Data, or the end of a whole file; None when an element is unusual (an unknown VR, an item
    tag, a File Meta or command element in the data set) or runs past ``head``."""
    elements: _Elements = {}
    end = len(head)
    unusual = _UNUSUAL_IN_META if meta else _UNUSUAL_IN_DATASET
    while position + 8 <= end:
        group, element, vr_bytes, length = _SHORT.unpack_from(head, position)
        tag = group << 16 | element
        if group != 2 if meta else tag in _PIXEL_VRS:
            return elements, position
        known = _VR_OF_BYTES.get(vr_bytes)
        if known is None or group in unusual:
            return None, position
        vr, long = known
        if long:
            if position + 12 > end:
                return None, position
            length = _LONG.unpack_from(head, position + 8)[0]
            start = position + 12
        else:
            start = position + 8
        if length == _UNDEFINED or start + length > end:
            return None, position
        value = head[start : start + length] if length else _empty_raw_value(vr)
        key = BaseTag(tag)
        elements[key] = RawDataElement(key, vr, length, value, start, False, True)
        position = start + length
    return (elements, position) if whole and position == end else (None, position)


def _empty_raw_value(vr: str) -> bytes | None:
    """pydicom's raw value of an empty element of ``vr`` (``b""`` or None); its return type also
    lists the decoded types, which ``raw=True`` never gives."""
    value = empty_value_for_VR(vr, raw=True)
    return value if isinstance(value, bytes) else None


def _parse(stream: _StrictReader, name: str) -> FileDataset:
    try:
        return dcmread(stream, stop_before_pixels=True)
    except _Truncated as exc:
        raise InvalidDicom(f"{name} is truncated: {exc}") from exc
    except (InvalidDicomError, EOFError, OSError, struct.error, zlib.error) as exc:
        raise InvalidDicom(f"{name} is not a valid DICOM file: {exc}") from exc
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidDicom(f"{name} has a malformed DICOM header: {exc}") from exc


def _locate_pixels(
    stream: ReadableBuffer, position: int, size: int, ds: FileDataset, syntax: str
) -> tuple[PixelDataLocation | None, tuple[tuple[Span, ...], ...]]:
    if position >= size:
        return None, ()
    implicit, little = bool(ds.original_encoding[0]), bool(ds.original_encoding[1])
    stream.seek(position)
    tag, vr, length, header_length = _element_header(stream.read(12), implicit, little)
    if tag not in _PIXEL_VRS:
        raise InvalidDicom(f"unexpected ({tag >> 16:04X},{tag & 0xFFFF:04X}) at byte {position}")
    offset = position + header_length
    frame_count = _int_attribute(ds, 0x00280008, 1)
    if length == _UNDEFINED:
        items, length = read_fragments(stream, offset, size)
        extended = _extended_offsets(ds)
        frames = encapsulated_frames(stream, items, frame_count, syntax, extended)
        _check_trailing(stream, offset + length + 8, size, implicit, little)
        return PixelDataLocation(vr, offset, length, True), frames
    if offset + length > size:
        raise InvalidDicom(
            f"Pixel Data declares {length} bytes but the file holds only {size - offset}: "
            "the file is truncated"
        )
    _check_trailing(stream, offset + length, size, implicit, little)
    frame_bits = _frame_bits(ds, tag)
    frames = native_frames(offset, length, frame_count, frame_bits) if frame_bits else ()
    return PixelDataLocation(vr, offset, length, False), frames


def _check_trailing(
    stream: ReadableBuffer, position: int, size: int, implicit: bool, little: bool
) -> None:
    """Walk the elements after Pixel Data (padding, signatures): a cut there is truncation too."""
    order = "<" if little else ">"
    while position < size:
        stream.seek(position)
        data = stream.read(12)
        if len(data) < 8:
            raise InvalidDicom(f"the file ends at byte {size}, inside an element after Pixel Data")
        explicit_long = not implicit and data[4:6] in _LONG_VRS
        if explicit_long and len(data) < 12:
            raise InvalidDicom(f"the file ends at byte {size}, inside an element after Pixel Data")
        if implicit or explicit_long:
            length = struct.unpack(f"{order}L", data[8:12] if explicit_long else data[4:8])[0]
            header = 12 if explicit_long else 8
        else:
            length, header = struct.unpack(f"{order}H", data[6:8])[0], 8
        if length == _UNDEFINED:
            return  # a sequence after Pixel Data: not walked, pydicom never parsed it either
        position += header + length
        if position > size:
            raise InvalidDicom(
                f"the file is truncated: an element after Pixel Data ends at byte {position} "
                f"but the file ends at {size}"
            )


def _element_header(data: bytes, implicit: bool, little: bool) -> tuple[int, str, int, int]:
    """Decode a Pixel Data element header: (tag, VR, value length, header length) (PS3.5 §7.1)."""
    order = "<" if little else ">"
    if len(data) < 8:
        raise InvalidDicom("the file ends inside the Pixel Data element header")
    group, element = struct.unpack(f"{order}HH", data[:4])
    tag = group << 16 | element
    if implicit:
        return tag, _PIXEL_VRS.get(tag, "UN"), struct.unpack(f"{order}L", data[4:8])[0], 8
    vr = data[4:6].decode("latin-1")
    if vr not in ("OB", "OW", "OF", "OD", "UN"):
        raise InvalidDicom(f"Pixel Data has VR {vr!r}; expected OB, OW, OF or OD")
    if len(data) < 12:
        raise InvalidDicom("the file ends inside the Pixel Data element header")
    return tag, vr, struct.unpack(f"{order}L", data[8:12])[0], 12


def _int_attribute(ds: Dataset, tag: int, default: int) -> int:
    """A US or IS attribute, read from the raw bytes so that a bad value is reported clearly."""
    element = ds.get_item(tag)
    if element is None or element.value in (None, b"", ""):
        return default
    value: Any = element.value
    if isinstance(element, RawDataElement):
        if (element.VR or vr_of(tag)) != "IS":
            order = "<" if element.is_little_endian else ">"
            return int(struct.unpack(f"{order}H", value[:2])[0]) if len(value) >= 2 else default
        value = value.decode("latin-1")
    try:
        return int(str(value).strip("\0 "))
    except ValueError as exc:
        raise InvalidDicom(
            f"({tag >> 16:04X},{tag & 0xFFFF:04X}) has the value {value!r}, not an integer"
        ) from exc


def _frame_bits(ds: Dataset, tag: int) -> int:
    """Bits in one native frame: Rows x Columns x Samples per Pixel x Bits Allocated."""
    rows = _int_attribute(ds, 0x00280010, 0)
    columns = _int_attribute(ds, 0x00280011, 0)
    samples = _int_attribute(ds, 0x00280002, 1)
    bits = _int_attribute(ds, 0x00280100, 0)
    if tag != 0x7FE00010:
        bits = 32 if tag == 0x7FE00008 else 64
    if _photometric_interpretation(ds) == "YBR_FULL_422":
        samples = 2  # two chroma values shared by each pair of pixels (PS3.3 C.7.6.3.1.2)
    return rows * columns * samples * bits


def _photometric_interpretation(ds: Dataset) -> Any:
    """(0028,0004) as pydicom decodes it, but left raw in ``ds``, so that ``dataset_to_json``
    still takes it straight from its bytes rather than through pydicom."""
    element = ds.get_item(0x00280004)
    if isinstance(element, RawDataElement) and element.VR == "CS" and element.value is not None:
        return convert_value("CS", element)
    return ds.get("PhotometricInterpretation")


def _extended_offsets(ds: Dataset) -> list[int] | None:
    """The Extended Offset Table (7FE0,0001), 64-bit offsets of each frame (PS3.3 C.7.6.3)."""
    element = ds.get(0x7FE00001)
    if element is None or not element.value:
        return None
    data = bytes(element.value)
    return list(struct.unpack(f"<{len(data) // 8}Q", data[: len(data) // 8 * 8]))


def _file_meta(ds: Dataset) -> FileMetaDataset:
    """A File Meta group for ``ds`` (PS3.10 §7.1) naming openvna as the implementation."""
    old = getattr(ds, "file_meta", None)
    syntax = old.get("TransferSyntaxUID") if old is not None else None
    missing = [k for k in ("SOPClassUID", "SOPInstanceUID") if not ds.get(k)]
    if missing:
        raise InvalidDicom(f"cannot write a DICOM file without {' and '.join(missing)}")
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax or ExplicitVRLittleEndian)
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _write(ds: Dataset, target: BinaryIO) -> None:
    ds.file_meta = _file_meta(ds)
    dcmwrite(target, ds, enforce_file_format=True)


def write_part10(ds: Dataset, path: Path) -> None:
    """Write ``ds`` as a Part 10 file: preamble, ``DICM``, File Meta group, data set.

    The transfer syntax is the one in ``ds.file_meta`` if any, else Explicit VR Little Endian;
    ``ds.file_meta`` is replaced by the group written.
    """
    with path.open("wb") as target:
        _write(ds, target)


def part10_bytes(ds: Dataset) -> bytes:
    """The bytes :func:`write_part10` would write."""
    buffer = io.BytesIO()
    _write(ds, buffer)
    return buffer.getvalue()
