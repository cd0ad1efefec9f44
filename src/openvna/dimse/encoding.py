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

A C-FIND response's identifier need not be a Dataset at all: ``encode_json`` writes the match's
DICOM JSON (PS3.18 F.2) straight to the bytes ``encode_simple`` would write for what
``json_to_dataset`` makes of it, and the handler yields an ``EncodedIdentifier``, which the
installed ``encode`` returns as it is. Building the Dataset was ~40 µs of a match's ~50, most
of the DIMSE process's time in a C-FIND with 200 matches (bench/RESULTS.md, "C-FIND on one
association").

Even so, pynetdicom spends ~140 µs building each C-FIND response message (a command set Dataset
of every C-FIND-RSP keyword, filled through pydicom's validating setters, then encoded):
``command_set`` writes the command sets of C-STORE, C-FIND, C-GET and C-MOVE responses and of
C-STORE requests (PS3.7 Tables 9.3-1 to 9.3-8) directly, and ``message_pdus`` their P-DATA fragments
(PS3.8 Annex E), for messages without an error comment, offending element or error ID; other
messages are pynetdicom's P-DATA primitives, encoded by pynetdicom. A data set sent to a peer that
set no maximum PDU length is cut into ``SEND_BATCH`` fragments (pynetdicom sends one, and reads a
stored file whole for it): the memory a C-GET or C-MOVE holds stays bounded.

Responses come back the other way: pynetdicom decodes each command set with pydicom and fills
its primitive by trying every element against the primitive's attributes, 162 µs for the
C-STORE-RSP each C-GET or C-MOVE sub-operation waits for. ``decode_response`` reads a response
holding only the elements ``command_set`` writes for its kind (21 µs), and ``install`` makes
pynetdicom's receiving queue it as pynetdicom would; any other message is pynetdicom's.

Every message then goes to the DUL as its PDUs already encoded, up to ``SEND_BATCH`` bytes at a
time (``reactor.WakingDUL.send_message``: written by the sending thread, or one pass of the DUL
and one write, instead of one pass per PDU), unless a handler is bound to an event that would
see the message, a PDU or a transition (pynetdicom's own way then).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from itertools import chain
from typing import Any

import pynetdicom.association
import pynetdicom.dimse_messages
import pynetdicom.service_class
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName
from pynetdicom import evt
from pynetdicom.dimse import _RQ_TO_MESSAGE, _RSP_TO_MESSAGE, DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_FIND, C_GET, C_MOVE, C_STORE
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA

from openvna.dimse.reactor import WakingDUL

__all__ = [
    "SEND_BATCH",
    "EncodedIdentifier",
    "PendingFindResponses",
    "command_set",
    "encode_json",
    "encode_simple",
    "install",
    "message_pdus",
]

Encoder = Callable[..., bytes | None]

# Text VRs whose values are written as they are, space padded (PS3.5 §6.2); UI is NUL padded.
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM"})
_NUMBER_STRING_VRS = frozenset({"DS", "IS"})
_INT_FORMATS = {"US": "H", "UL": "I", "SS": "h", "SL": "i"}
# Character sets under which ASCII text is encoded as ASCII, without escape sequences.
_PLAIN_CHARSETS = frozenset({"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"})
_SPECIFIC_CHARACTER_SET = 0x00080005
_DATA_SET, _NO_DATA_SET = 0x0001, 0x0101  # Command Data Set Type (PS3.7 Table E.1-1)
_PAD = {"UI": "\0", "AE": " "}
_PENDING = (0xFF00, 0xFF01)
_UPPER_HEX = frozenset("0123456789ABCDEF")
_PLAIN_ATTRIBUTE = frozenset({"vr", "Value"})  # no BulkDataURI, no InlineBinary
# Elements every response written here has, then those C-GET and C-MOVE responses add.
_RESPONSE = (
    (0x0002, "UI", "AffectedSOPClassUID"),
    (0x0120, "US", "MessageIDBeingRespondedTo"),
    (0x0900, "US", "Status"),
)
_SUB_OPERATIONS = (
    *_RESPONSE,
    (0x1020, "US", "NumberOfRemainingSuboperations"),
    (0x1021, "US", "NumberOfCompletedSuboperations"),
    (0x1022, "US", "NumberOfFailedSuboperations"),
    (0x1023, "US", "NumberOfWarningSuboperations"),
)
# (primitive, is a response): Command Field (PS3.7 Table E.1-1), its elements besides Command
# Field and Command Data Set Type, and the primitive's attribute holding its data set.
_COMMANDS: dict[tuple[type, bool], tuple[int, tuple[tuple[int, str, str], ...], str]] = {
    (C_STORE, False): (
        0x0001,
        (
            (0x0002, "UI", "AffectedSOPClassUID"),
            (0x0110, "US", "MessageID"),
            (0x0700, "US", "Priority"),
            (0x1000, "UI", "AffectedSOPInstanceUID"),
            (0x1030, "AE", "MoveOriginatorApplicationEntityTitle"),
            (0x1031, "US", "MoveOriginatorMessageID"),
        ),
        "DataSet",
    ),
    (C_STORE, True): (
        0x8001,
        (*_RESPONSE, (0x1000, "UI", "AffectedSOPInstanceUID")),
        "DataSet",
    ),
    (C_FIND, True): (0x8020, _RESPONSE, "Identifier"),
    (C_GET, True): (0x8010, _SUB_OPERATIONS, "Identifier"),
    (C_MOVE, True): (0x8021, _SUB_OPERATIONS, "Identifier"),
}
_LEFT_OUT = ("ErrorComment", "OffendingElement", "ErrorID")  # elements written by pynetdicom
# The responses above by Command Field, for reading them back (``decode_response``): the
# primitive, its elements by element number (their VR and attribute), its data set attribute.
_RESPONSES = {
    field: (kind, {element: (vr, name) for element, vr, name in fields}, payload)
    for (kind, response), (field, fields, payload) in _COMMANDS.items()
    if response
}
_MODULES = (pynetdicom.dimse_messages, pynetdicom.service_class, pynetdicom.association)
_P_DATA_TF = 0x04  # PDU type (PS3.8 Table 9-22)
_LAST_COMMAND = 0x03  # message control header: a command set's last fragment (PS3.8 E.2)
# Events whose handlers would miss what a batch skips: the message, each PDU, each transition.
_SENT_EVENTS = (evt.EVT_DIMSE_SENT, evt.EVT_PDU_SENT, evt.EVT_DATA_SENT, evt.EVT_FSM_TRANSITION)
SEND_BATCH = 1 << 20  # bytes of PDUs handed to the DUL at once (a larger message: several)


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
        encoded = _element_bytes(tag, element.VR, value, is_implicit_vr)
        if encoded is None:
            return None
        out += encoded
    return bytes(out)


def _element_bytes(tag: int, vr: str, value: bytes | None, is_implicit_vr: bool) -> bytes | None:
    """A data element in little endian (PS3.5 7.1.2, 7.1.3), or None for no value or one too
    long for the explicit VR's 16-bit length."""
    if value is None:
        return None
    if is_implicit_vr:
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value
    if len(value) > 0xFFFF:
        return None
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(value)) + value


def _plain_charset(ds: Dataset) -> bool:
    element = ds.get(_SPECIFIC_CHARACTER_SET)
    if element is None or not element.value:
        return True
    value = element.value
    return isinstance(value, str) and value in _PLAIN_CHARSETS


class EncodedIdentifier:
    """An identifier already encoded in its presentation context's transfer syntax (Implicit
    or Explicit VR Little Endian, ``implicit``), handed to pynetdicom where it expects a Dataset
    to encode: the installed ``encode`` returns ``data`` for that syntax, nothing for another
    (pynetdicom then answers 0xC312, which the handler, choosing the syntax of the request's
    context, never causes)."""

    __slots__ = ("data", "implicit")

    def __init__(self, data: bytes, implicit: bool) -> None:
        self.data = data
        self.implicit = implicit


def encode_json(model: dict[str, Any], is_implicit_vr: bool) -> bytes | None:
    """A DICOM JSON object (PS3.18 F.2) in little endian as ``encode_simple`` writes what
    ``json_to_dataset`` makes of it, or None when it holds what this does not write: a key not
    in upper-case hexadecimal, group 0002 or a group length, a sequence, a binary, float or
    tag value, another VR, non-ASCII text, a Specific Character Set."""
    out = bytearray()
    for key in sorted(model):  # 8 upper-case hex digits sort as their tags
        if len(key) != 8 or not _UPPER_HEX.issuperset(key) or key == "00080005":
            return None
        tag = int(key, 16)
        if tag >> 16 == 0x0002 or not tag & 0xFFFF:
            return None
        attribute = model[key]
        if not isinstance(attribute, dict) or not _PLAIN_ATTRIBUTE.issuperset(attribute):
            return None
        vr, values = attribute.get("vr"), attribute.get("Value", [])
        if not isinstance(vr, str) or not isinstance(values, list):
            return None
        encoded = _element_bytes(tag, vr, _json_bytes(vr, values), is_implicit_vr)
        if encoded is None:
            return None
        out += encoded
    return bytes(out)


def _json_bytes(vr: str, values: list[Any]) -> bytes | None:
    """One attribute's value, as ``openvna.dicom.json`` reads it and ``encode_simple`` writes it."""
    if vr in _INT_FORMATS:
        return _int_bytes(_INT_FORMATS[vr], values)
    if vr in _NUMBER_STRING_VRS:
        texts = [_number_string(v) for v in values]
        if any(t is None for t in texts):
            return None
        raw = "\\".join(t or "" for t in texts)
        return _text_bytes([raw], " ")
    if vr == "PN":
        names = [_alphabetic(v) for v in values]
        return None if any(n is None for n in names) else _text_bytes(names, " ")
    if vr in _TEXT_VRS or vr == "UI":
        texts = ["" if v is None else v for v in values]
        return _text_bytes(texts, "\0" if vr == "UI" else " ")
    return None


def _number_string(value: Any) -> str | None:
    """An IS or DS value's text, when it is text or an integer (a float's text is left to
    ``openvna.dicom.json``)."""
    if value is None:
        return ""  # an empty value among several (PS3.18 F.2.5)
    if isinstance(value, str):
        return value
    return str(value) if type(value) is int else None


def _alphabetic(value: Any) -> str | None:
    """A person name's text when it has no ideographic or phonetic group."""
    if value is None:
        return ""
    alphabetic = value if isinstance(value, str) else None
    if isinstance(value, dict) and set(value) <= {"Alphabetic"}:
        alphabetic = value.get("Alphabetic") or ""
    if not isinstance(alphabetic, str) or alphabetic.endswith("="):
        return None  # trailing "=" would be taken for empty groups (openvna.dicom.json)
    return alphabetic


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


def message_pdus(
    primitive: object, context_id: int, max_pdu_length: int, batch: int = SEND_BATCH
) -> Iterator[bytes] | None:
    """The P-DATA-TF PDUs of ``primitive``, encoded and concatenated up to about ``batch``
    bytes, or None when it is not a message this writes (see ``command_set``). They are
    pynetdicom's, but that a data set larger than ``SEND_BATCH`` to a peer that set no maximum
    PDU length is cut into ``SEND_BATCH`` fragments, where pynetdicom sends one (reading a stored
    file whole for it)."""
    shape = _shape(primitive)
    command = command_set(primitive)
    if shape is None or command is None:
        return None
    pdu_length = _pdu_length(max_pdu_length)
    data = _message_data(primitive, shape[2], context_id, pdu_length)
    return _batched(chain(_fragments(command, 0x01, 0x03, context_id, pdu_length), data), batch)


def _shape(primitive: object) -> tuple[int, tuple[tuple[int, str, str], ...], str] | None:
    """The entry of ``_COMMANDS`` for ``primitive``, if it is a message this writes."""
    return _COMMANDS.get((type(primitive), _is_response(primitive)))


def command_set(primitive: object) -> bytes | None:
    """The command set (PS3.7 §6.3.1, implicit VR little endian, group length first) of a C-STORE
    request (Table 9.3-1) or of a C-STORE, C-FIND, C-GET or C-MOVE response (Tables 9.3-2, 9.3-4,
    9.3-6, 9.3-8) as pynetdicom encodes it; None for any other message, or one with an error
    comment, an offending element or an error ID (left to pynetdicom)."""
    shape = _shape(primitive)
    if shape is None or any(getattr(primitive, name, None) is not None for name in _LEFT_OUT):
        return None
    command_field, fields, payload = shape
    has_data = getattr(primitive, payload) is not None or bool(
        getattr(primitive, "_dataset_path", None)
    )
    values: dict[int, bytes] = {
        0x0100: struct.pack("<H", command_field),
        0x0800: struct.pack("<H", _DATA_SET if has_data else _NO_DATA_SET),
    }
    for element, vr, name in fields:
        value = getattr(primitive, name)
        if value is None:
            continue
        encoded = struct.pack("<H", value) if vr == "US" else _text_bytes([str(value)], _PAD[vr])
        if encoded is None:
            return None
        values[element] = encoded
    body = b"".join(
        struct.pack("<HHI", 0, element, len(values[element])) + values[element]
        for element in sorted(values)
    )
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def _is_response(primitive: object) -> bool:
    return getattr(primitive, "MessageIDBeingRespondedTo", None) is not None


def decode_response(command: bytes | memoryview, context_id: int) -> Any | None:
    """The primitive pynetdicom's ``message_to_primitive`` makes of a response's command set
    (implicit VR little endian, PS3.7 §6.3.1) that announces no data set and holds only elements
    ``command_set`` writes for its kind (Tables 9.3-2, 9.3-4, 9.3-6, 9.3-8: no error comment,
    offending element or error ID); None for any other message, which pynetdicom decodes."""
    elements = _command_elements(command)
    if elements is None or _us(elements.pop(0x0800, b"")) != _NO_DATA_SET:
        return None
    elements.pop(0x0000, None)  # the group length, checked by the reading of the elements
    shape = _RESPONSES.get(_us(elements.pop(0x0100, b"")) or 0)
    if shape is None:
        return None
    kind, known, payload = shape
    if not elements.keys() <= known.keys():
        return None
    response = kind()
    try:
        for element, value in elements.items():
            vr, name = known[element]
            decoded = _us(value) if vr == "US" else value.decode("ascii").rstrip("\0 ")
            if decoded is None or decoded == "":
                return None
            setattr(response, name, decoded)
    except (UnicodeDecodeError, ValueError, TypeError):  # pynetdicom's setters refuse it too
        return None
    if kind is not C_STORE:
        setattr(response, payload, BytesIO())  # pynetdicom's empty data set for these
    response._context_id = context_id
    return response


def _command_elements(command: bytes | memoryview) -> dict[int, bytes] | None:
    """The group 0000 elements of an implicit VR little endian command set, or None when they
    do not fill it exactly or the group length disagrees."""
    data = bytes(command)
    elements: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        if at + 8 > len(data):
            return None
        group, element, length = struct.unpack_from("<HHI", data, at)
        end = at + 8 + length
        if group != 0 or end > len(data) or element in elements:
            return None
        elements[element] = data[at + 8 : end]
        at = end
    group_length = elements.get(0x0000)
    if group_length is None or len(group_length) != 4:
        return None
    return elements if struct.unpack("<I", group_length)[0] == len(data) - 12 else None


def _us(value: bytes) -> int | None:
    return int(struct.unpack("<H", value)[0]) if len(value) == 2 else None


def _message_data(
    primitive: Any, payload: str, context_id: int, pdu_length: int
) -> Iterator[bytes | memoryview]:
    """The data set's PDUs: from the primitive's buffer (none when it is empty), or read from
    the file pynetdicom was given to send as it lies (``_dataset_path``: its path and where the
    data set starts; an empty one is sent as one empty fragment), about ``SEND_BATCH`` bytes at
    a time."""
    data = getattr(primitive, payload)
    if data is not None:
        buffer = data.getbuffer()
        if len(buffer):
            yield from _fragments(buffer, 0x00, 0x02, context_id, pdu_length)
        return
    if not getattr(primitive, "_dataset_path", None):
        return
    path, offset = primitive._dataset_path
    size = pdu_length - 6
    chunk = max(SEND_BATCH // size, 1) * size
    with open(path, "rb") as source:
        source.seek(offset)
        block = source.read(chunk)
        while True:
            following = source.read(chunk) if block else b""
            yield from _fragments(block, 0x00, 0x00 if following else 0x02, context_id, pdu_length)
            if not following:
                return
            block = following


def _fragments(
    data: bytes | memoryview, more: int, last: int, context_id: int, pdu_length: int
) -> Iterator[bytes | memoryview]:
    """One P-DATA-TF PDU (PS3.8 §9.3.5) for each fragment of ``data`` (one, empty, for no data):
    a PDV item of the context with its message control header (E.2: ``more``, the last one
    ``last``), each fragment at most ``pdu_length`` less 6."""
    view = memoryview(data)
    size = pdu_length - 6
    for start in range(0, max(len(view), 1), size):
        fragment = view[start : start + size]
        header = last if start + size >= len(view) else more
        yield struct.pack(
            ">BBIIBB", _P_DATA_TF, 0, len(fragment) + 6, len(fragment) + 2, context_id, header
        )
        yield fragment


def _batched(parts: Iterable[bytes | memoryview], batch: int) -> Iterator[bytes]:
    """``parts`` joined into runs of about ``batch`` bytes."""
    out: list[bytes | memoryview] = []
    size = 0
    for part in parts:
        out.append(part)
        size += len(part)
        if size >= batch:
            yield b"".join(out)
            out, size = [], 0
    if out:
        yield b"".join(out)


def _message_pdata(primitive: Any, context_id: int, max_pdu_length: int) -> Iterator[P_DATA]:
    """pynetdicom's P-DATA primitives for ``primitive`` (what its ``send_msg`` sends)."""
    if primitive.MessageIDBeingRespondedTo is None:
        message = _RQ_TO_MESSAGE[type(primitive)]()
    else:
        message = _RSP_TO_MESSAGE[type(primitive)]()
    message.primitive_to_message(primitive)
    return message.encode_msg(context_id, max_pdu_length)


def _with_fast_send(original: Callable[..., None]) -> Callable[..., None]:
    def send_msg(self: DIMSEServiceProvider, primitive: Any, context_id: int) -> None:
        dul = _direct_dul(self)
        if dul is None:
            original(self, primitive, context_id)
            return
        size = self.maximum_pdu_size
        batches = message_pdus(primitive, context_id, size)
        if batches is None:
            pdus = (
                P_DATA_TF(pdata).encode() for pdata in _message_pdata(primitive, context_id, size)
            )
            batches = _batched(pdus, SEND_BATCH)
        dul.send_message(batches, more=_is_pending_find(primitive))

    send_msg.fast_path = True  # type: ignore[attr-defined]
    return send_msg


class PendingFindResponses:
    """The pending responses of one C-FIND (PS3.7 9.3.2.2, PS3.4 C.4.1.1.4), written by the
    handler's thread straight to the association, as ``send_msg`` would write them: the command
    set is the same for every one (made once), each response its two PDUs and one write with
    ``MSG_MORE``. pynetdicom's own loop over a handler's answers (status validation, a
    primitive, logging, ``send_msg``) was ~25 µs of a response's ~45; it still sends the final
    response and every failure."""

    def __init__(self, dul: WakingDUL, context_id: int, command: bytes, pdu_length: int) -> None:
        self.dul = dul
        self.context_id = context_id
        self.pdu_length = pdu_length
        self.command = b"".join(_fragments(command, 0x01, 0x03, context_id, pdu_length))

    @classmethod
    def of(
        cls,
        dimse: DIMSEServiceProvider,
        sop_class: str | None,
        message_id: int | None,
        context_id: int,
    ) -> PendingFindResponses | None:
        """The writer of ``dimse``'s association, or None when pynetdicom must send them (a
        DUL of its own, a handler bound to an event that would see them, or ``install`` not
        run)."""
        dul = _direct_dul(dimse)
        installed = getattr(DIMSEServiceProvider.send_msg, "fast_path", False)
        if dul is None or not installed or sop_class is None or message_id is None:
            return None
        response = C_FIND()
        response.MessageIDBeingRespondedTo = message_id
        response.AffectedSOPClassUID = sop_class
        response.Status = _PENDING[0]
        response.Identifier = BytesIO(b"\0")  # only marks that a data set follows
        command = command_set(response)
        if command is None:
            return None
        return cls(dul, context_id, command, _pdu_length(dimse.maximum_pdu_size))

    def send(self, identifier: bytes) -> None:
        """One pending response carrying ``identifier``, encoded in the context's syntax."""
        data = _fragments(identifier, 0x00, 0x02, self.context_id, self.pdu_length)
        self.dul.send_message([b"".join((self.command, *data))], more=True)


def _direct_dul(dimse: DIMSEServiceProvider) -> WakingDUL | None:
    """The DUL a message of ``dimse``'s association can be written to as encoded PDUs, or None
    when pynetdicom must send it: a DUL of its own, or a handler bound to an event that would
    see the message, a PDU or a transition."""
    dul = dimse.dul
    if not isinstance(dul, WakingDUL):
        return None
    if any(dimse.assoc.get_handlers(event) for event in _SENT_EVENTS):
        return None
    return dul


def _pdu_length(max_pdu_length: int) -> int:
    """The longest PDU to send a peer that receives ``max_pdu_length`` (0: no limit)."""
    return max_pdu_length or SEND_BATCH + 6


def _is_pending_find(primitive: object) -> bool:
    """A pending C-FIND response (PS3.4 C.4.1.1.4): another response always follows."""
    return isinstance(primitive, C_FIND) and primitive.Status in _PENDING


def _with_fast_receive(original: Callable[..., None]) -> Callable[..., None]:
    def receive_primitive(self: DIMSEServiceProvider, primitive: P_DATA) -> None:
        if not _received_response(self, primitive):
            original(self, primitive)

    receive_primitive.fast_path = True  # type: ignore[attr-defined]
    return receive_primitive


def _received_response(dimse: DIMSEServiceProvider, primitive: P_DATA) -> bool:
    """Queue a response that is one whole command set ``decode_response`` reads, as pynetdicom
    queues the messages it decodes; False when pynetdicom must decode it (another message's
    fragments came before it, a handler is bound to the received message, or another kind)."""
    pdvs = primitive.presentation_data_value_list
    if len(pdvs) != 1:
        return False
    context_id, data = pdvs[0]
    if data[0] & _LAST_COMMAND != _LAST_COMMAND:
        return False
    underway = dimse.message
    if underway is not None and underway.encoded_command_set.tell():
        return False
    if dimse.assoc.get_handlers(evt.EVT_DIMSE_RECV):
        return False
    response = decode_response(memoryview(data)[1:], context_id)
    if response is None:
        return False
    dimse.msg_queue.put((context_id, response))
    return True


def _with_fast_path(original: Encoder) -> Encoder:
    def encode(
        ds: Dataset, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False
    ) -> bytes | None:
        if isinstance(ds, EncodedIdentifier):
            same = ds.implicit == is_implicit_vr and is_little_endian and not deflated
            return ds.data if same else None
        if not deflated:
            fast = encode_simple(ds, is_implicit_vr, is_little_endian)
            if fast is not None:
                return fast
        return original(ds, is_implicit_vr, is_little_endian, deflated)

    encode.fast_path = True  # type: ignore[attr-defined]
    return encode


def install() -> None:
    """Make pynetdicom's modules encode through ``encode_simple`` first, send through
    ``message_pdus`` and read responses through ``decode_response`` (once per process)."""
    for module in _MODULES:
        if not getattr(module.encode, "fast_path", False):
            module.encode = _with_fast_path(module.encode)  # type: ignore[attr-defined]
    if not getattr(DIMSEServiceProvider.send_msg, "fast_path", False):
        DIMSEServiceProvider.send_msg = _with_fast_send(  # type: ignore[method-assign]
            DIMSEServiceProvider.send_msg
        )
    if not getattr(DIMSEServiceProvider.receive_primitive, "fast_path", False):
        DIMSEServiceProvider.receive_primitive = _with_fast_receive(  # type: ignore[method-assign]
            DIMSEServiceProvider.receive_primitive
        )
