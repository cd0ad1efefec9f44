"""The small datasets of every DIMSE message, encoded without pydicom's writer.

Each message pynetdicom sends has a command set (PS3.7 §6.3.1: implicit VR little endian, UL, US,
UI and AE elements), encoded twice (once to measure its group length, once to send), and each
C-FIND response an identifier of a few short text elements. pydicom's ``write_dataset`` costs
about 30 µs an element on them (charset lookups, regular expressions, a file-like object per
element): about 100 µs an identifier of four elements, half of the DIMSE process's CPU in a
C-FIND answered with 200 matches (py-spy, bench/RESULTS.md "DIMSE per-message cost").

``encode_simple`` writes such a dataset itself: data elements (not raw ones) of the VRs below,
text in ASCII, little endian, no sequences; anything else is left to pydicom (None), so the
bytes are pydicom's own in every case (tests/unit/dimse/test_encoding.py compares them).
``install`` makes pynetdicom's ``dsutils.encode``, as its modules imported it, try this first.

Even so, pynetdicom spends ~140 µs building each C-FIND response message (a command set Dataset
of every C-FIND-RSP keyword, filled through pydicom's validating setters, then encoded):
``find_response_pdata`` writes a C-FIND response's command set (PS3.7 Table 9.3-2) and its P-DATA
fragments (PS3.8 Annex E) directly, and ``install`` makes ``DIMSEServiceProvider.send_msg`` use
it for responses without an error comment or offending element, unless a handler is bound to
``EVT_DIMSE_SENT`` (which would want pynetdicom's message).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pynetdicom.association
import pynetdicom.dimse_messages
import pynetdicom.service_class
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName
from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.pdu_primitives import P_DATA

__all__ = ["encode_simple", "find_response_pdata", "install"]

Encoder = Callable[..., bytes | None]

# Text VRs whose values are written as they are, space padded (PS3.5 §6.2); UI is NUL padded.
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM"})
_NUMBER_STRING_VRS = frozenset({"DS", "IS"})
_INT_FORMATS = {"US": "H", "UL": "I", "SS": "h", "SL": "i"}
# Character sets under which ASCII text is encoded as ASCII, without escape sequences.
_PLAIN_CHARSETS = frozenset({"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"})
_SPECIFIC_CHARACTER_SET = 0x00080005
_C_FIND_RSP = 0x8020  # Command Field (PS3.7 Table E.1-1)
_DATA_SET, _NO_DATA_SET = 0x0001, 0x0101  # Command Data Set Type (PS3.7 Table E.1-1)
_MODULES = (pynetdicom.dimse_messages, pynetdicom.service_class, pynetdicom.association)


def encode_simple(ds: Dataset, is_implicit_vr: bool, is_little_endian: bool) -> bytes | None:
    """``ds`` encoded as pydicom encodes it, or None when it holds anything this does not
    write (a raw or sequence element, another VR, non-ASCII text, big endian)."""
    if not is_little_endian or not _plain_charset(ds):
        return None
    out = bytearray()
    for tag in sorted(ds.keys()):
        if tag & 0xFFFF == 0 and tag >> 16 > 6:
            continue  # a retired group length, which pydicom does not write (PS3.5 §7.2)
        element = ds.get_item(tag)
        value = _value_bytes(element) if isinstance(element, DataElement) else _raw_bytes(element)
        if value is None:
            return None
        if is_implicit_vr:
            out += struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value))
        elif len(value) > 0xFFFF:
            return None
        else:
            out += struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, element.VR.encode(), len(value))
        out += value
    return bytes(out)


def _plain_charset(ds: Dataset) -> bool:
    element = ds.get(_SPECIFIC_CHARACTER_SET)
    if element is None or not element.value:
        return True
    value = element.value
    return isinstance(value, str) and value in _PLAIN_CHARSETS


def _raw_bytes(element: RawDataElement) -> bytes | None:
    """An IS or DS value kept as its text (``openvna.dicom.json``), which pydicom would write
    back as it is."""
    value = element.value
    if element.VR not in _NUMBER_STRING_VRS or not isinstance(value, bytes) or not value.isascii():
        return None
    return value + b" " if len(value) % 2 else value


def _value_bytes(element: DataElement) -> bytes | None:
    vr, value = element.VR, element.value
    if value is None:
        return b""
    values: list[Any] = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if vr in _INT_FORMATS:
        return _int_bytes(_INT_FORMATS[vr], values)
    if vr in _NUMBER_STRING_VRS:
        values = [v.original_string if hasattr(v, "original_string") else str(v) for v in values]
    elif vr == "PN":
        values = [str(v) if isinstance(v, PersonName) else v for v in values]
    elif vr not in _TEXT_VRS and vr != "UI":
        return None
    return _text_bytes(values, "\0" if vr == "UI" else " ")


def _int_bytes(code: str, values: list[Any]) -> bytes | None:
    if not all(type(v) is int for v in values):
        return None
    try:
        return struct.pack(f"<{len(values)}{code}", *values)
    except struct.error:  # out of range: pydicom's error
        return None


def _text_bytes(values: list[Any], padding: str) -> bytes | None:
    if not all(isinstance(v, str) for v in values):
        return None
    text = "\\".join(values)
    if not text.isascii():
        return None
    return (text + padding if len(text) % 2 else text).encode("ascii")


def find_response_pdata(
    primitive: object, context_id: int, max_pdu_length: int
) -> list[P_DATA] | None:
    """The P-DATA primitives pynetdicom would send for a C-FIND response ``primitive``, or None
    when it is not one this writes (a request, an error comment or offending element)."""
    if (
        not isinstance(primitive, C_FIND)
        or primitive.MessageIDBeingRespondedTo is None
        or primitive.Status is None
        or primitive.ErrorComment is not None
        or primitive.OffendingElement is not None
    ):
        return None
    identifier = primitive.Identifier.getvalue() if primitive.Identifier is not None else b""
    data_set_type = _NO_DATA_SET if primitive.Identifier is None else _DATA_SET
    sop_class = _text_bytes([str(primitive.AffectedSOPClassUID or "")], "\0") or b""
    body = b"".join(
        (
            struct.pack("<HHI", 0, 0x0002, len(sop_class)) + sop_class if sop_class else b"",
            struct.pack("<HHIH", 0, 0x0100, 2, _C_FIND_RSP),
            struct.pack("<HHIH", 0, 0x0120, 2, primitive.MessageIDBeingRespondedTo),
            struct.pack("<HHIH", 0, 0x0800, 2, data_set_type),
            struct.pack("<HHIH", 0, 0x0900, 2, primitive.Status),
        )
    )
    command = struct.pack("<HHII", 0, 0, 4, len(body)) + body
    out = [_pdata(context_id, 0x01, 0x03, command, max_pdu_length)]
    if identifier:
        out.append(_pdata(context_id, 0x00, 0x02, identifier, max_pdu_length))
    return [pdata for group in out for pdata in group]


def _pdata(context_id: int, more: int, last: int, data: bytes, max_pdu_length: int) -> list[P_DATA]:
    """One P-DATA for each fragment of ``data`` (PS3.8 E.2: its message control header ``more``, the
    last one ``last``), each fragment at most the peer's maximum PDU length less 6."""
    size = max_pdu_length - 6 if max_pdu_length else len(data)
    fragments = [data[i : i + size] for i in range(0, len(data), size)]
    out = []
    for i, fragment in enumerate(fragments):
        pdata = P_DATA()
        header = last if i == len(fragments) - 1 else more
        pdata.presentation_data_value_list.append((context_id, bytes((header,)) + fragment))
        out.append(pdata)
    return out


def _with_fast_send(original: Callable[..., None]) -> Callable[..., None]:
    def send_msg(self: DIMSEServiceProvider, primitive: object, context_id: int) -> None:
        pdatas = None
        if not self.assoc.get_handlers(evt.EVT_DIMSE_SENT):
            pdatas = find_response_pdata(primitive, context_id, self.maximum_pdu_size)
        if pdatas is None:
            original(self, primitive, context_id)
            return
        for pdata in pdatas:
            self.dul.send_pdu(pdata)

    send_msg.fast_path = True  # type: ignore[attr-defined]
    return send_msg


def _with_fast_path(original: Encoder) -> Encoder:
    def encode(
        ds: Dataset, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False
    ) -> bytes | None:
        if not deflated:
            fast = encode_simple(ds, is_implicit_vr, is_little_endian)
            if fast is not None:
                return fast
        return original(ds, is_implicit_vr, is_little_endian, deflated)

    encode.fast_path = True  # type: ignore[attr-defined]
    return encode


def install() -> None:
    """Make pynetdicom's modules encode through ``encode_simple`` first (once per process)."""
    for module in _MODULES:
        if not getattr(module.encode, "fast_path", False):
            module.encode = _with_fast_path(module.encode)  # type: ignore[attr-defined]
    if not getattr(DIMSEServiceProvider.send_msg, "fast_path", False):
        DIMSEServiceProvider.send_msg = _with_fast_send(  # type: ignore[method-assign]
            DIMSEServiceProvider.send_msg
        )
