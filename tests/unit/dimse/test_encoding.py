"""Command sets and identifiers encoded without pydicom's writer: pydicom's bytes, or none."""

from __future__ import annotations

import socket
import struct
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynetdicom.service_class
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import Dataset
from pydicom.dataset import Dataset as PlainDataset
from pydicom.sequence import Sequence
from pynetdicom.dimse import _RQ_TO_MESSAGE, _RSP_TO_MESSAGE, DIMSEServiceProvider
from pynetdicom.dimse_messages import C_FIND_RSP, C_STORE_RQ, DIMSEMessage
from pynetdicom.dimse_primitives import C_FIND, C_GET, C_MOVE, C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA

from openvna.dicom.json import json_to_dataset
from openvna.dimse.encoding import (
    SEND_BATCH,
    EncodedIdentifier,
    PendingFindResponses,
    decode_response,
    encode_json,
    encode_simple,
    install,
    message_pdus,
)
from openvna.errors import BadRequest
from tests.unit.dimse.sending import Transport, sending_dimse

ENCODINGS = [(True, "implicit"), (False, "explicit")]


def _identifier(charset: str | None) -> Dataset:
    ds = json_to_dataset(
        {
            "00080020": {"vr": "DA", "Value": ["20240101"]},
            "00080061": {"vr": "CS", "Value": ["CT", "PT"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John", "Ideographic": "D^J"}]},
            "00100020": {"vr": "LO", "Value": ["PID-1"]},  # odd: space padded
            "00101030": {"vr": "DS", "Value": [72.5]},
            "0020000D": {"vr": "UI", "Value": ["1.2.3.45"]},  # odd: NUL padded
            "00201208": {"vr": "IS", "Value": [12, 3]},
            "00081030": {"vr": "LO"},  # asked, no value
        }
    )
    ds.QueryRetrieveLevel = "STUDY"
    ds.RetrieveAETitle = "OPENVNA"
    ds.PatientSize = 1.8  # DS and IS values set as numbers, not read as text
    ds.NumberOfPatientRelatedStudies = 4
    if charset is not None:
        ds.SpecificCharacterSet = charset
    return ds


@pytest.mark.parametrize(("implicit", "name"), ENCODINGS)
@pytest.mark.parametrize("charset", [None, "ISO_IR 192", "ISO_IR 100"])
def test_an_identifier_as_pydicom_writes_it(implicit: bool, name: str, charset: str | None) -> None:
    ds = _identifier(charset)
    fast = encode_simple(ds, implicit, True)
    assert fast is not None
    assert fast == encode(ds, implicit, True)


def test_a_command_set_as_pydicom_writes_it() -> None:
    store = C_STORE()
    store.MessageID = 7
    store.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    store.AffectedSOPInstanceUID = "1.2.3.4"
    store.Priority = 0
    store.MoveOriginatorApplicationEntityTitle = "MOVER"
    store.MoveOriginatorMessageID = 3
    find = C_FIND()
    find.MessageIDBeingRespondedTo = 1
    find.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.1"
    find.Status = 0xFF00
    for message, primitive in ((C_STORE_RQ(), store), (C_FIND_RSP(), find)):
        message.primitive_to_message(primitive)  # group length measured by the fast path
        fast = encode_simple(message.command_set, True, True)
        assert fast is not None
        assert fast == encode(message.command_set, True, True)
        assert message.command_set.CommandGroupLength == len(fast) - 12


@pytest.mark.parametrize(
    "change",
    [
        lambda ds: setattr(ds, "PatientName", "Dürer^Albrecht"),  # not ASCII
        lambda ds: setattr(ds, "SpecificCharacterSet", ["", "ISO 2022 IR 87"]),  # escapes
        lambda ds: setattr(ds, "ReferencedStudySequence", Sequence([PlainDataset()])),
    ],
)
def test_left_to_pydicom(change: object) -> None:
    ds = _identifier("ISO_IR 192")
    change(ds)  # type: ignore[operator]
    assert encode_simple(ds, True, True) is None


def test_big_endian_left_to_pydicom() -> None:
    assert encode_simple(_identifier(None), False, False) is None


@pytest.mark.parametrize(("implicit", "name"), ENCODINGS)
def test_installed_encode_falls_back_to_pydicom(implicit: bool, name: str) -> None:
    install()
    install()  # once only: no fast path wrapped in another
    ds = _identifier("ISO_IR 192")
    ds.PatientName = "Dürer^Albrecht"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    ds.ReferencedStudySequence = Sequence([item])
    patched = pynetdicom.service_class.encode
    assert patched(ds, implicit, True) == encode(ds, implicit, True)
    plain = _identifier(None)
    assert patched(plain, implicit, True) == encode(plain, implicit, True)
    assert patched(plain, True, True, True) == encode(plain, True, True, True)  # deflated


def _pynetdicom_pdus(primitive: object, max_pdu: int) -> bytes:
    """What pynetdicom's ``send_msg`` writes for ``primitive`` on context 5, PDU by PDU."""
    request = getattr(primitive, "MessageIDBeingRespondedTo", None) is None
    message = (_RQ_TO_MESSAGE if request else _RSP_TO_MESSAGE)[type(primitive)]()
    message.primitive_to_message(primitive)
    return b"".join(P_DATA_TF(p).encode() for p in message.encode_msg(5, max_pdu))


def _written(primitive: object, max_pdu: int, batch: int = SEND_BATCH) -> bytes:
    batches = message_pdus(primitive, 5, max_pdu, batch)
    assert batches is not None
    return b"".join(batches)


def _find_response(status: int, identifier: bytes | None, sop_class: str) -> C_FIND:
    primitive = C_FIND()
    primitive.MessageIDBeingRespondedTo = 513
    primitive.AffectedSOPClassUID = sop_class
    primitive.Status = status
    if identifier is not None:
        primitive.Identifier = BytesIO(identifier)
    return primitive


MAX_PDUS = [0, 16384, 40]


@pytest.mark.parametrize("max_pdu", MAX_PDUS)
@pytest.mark.parametrize(
    ("status", "identifier"),
    [(0xFF00, b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY " * 9), (0x0000, None), (0xFE00, None)],
)
@pytest.mark.parametrize("sop_class", ["1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.31"])
def test_a_find_response_as_pynetdicom_sends_it(
    max_pdu: int, status: int, identifier: bytes | None, sop_class: str
) -> None:
    primitive = _find_response(status, identifier, sop_class)
    assert _written(primitive, max_pdu) == _pynetdicom_pdus(primitive, max_pdu)


@pytest.mark.parametrize("status", [0x0000, 0xB007, 0xA700])
def test_a_store_response_as_pynetdicom_sends_it(status: int) -> None:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 7
    primitive.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    primitive.AffectedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    primitive.Status = status
    for max_pdu in MAX_PDUS:
        assert _written(primitive, max_pdu) == _pynetdicom_pdus(primitive, max_pdu)
    primitive.ErrorComment = "no space left"
    assert message_pdus(primitive, 1, 16384) is None


def _retrieve_response(kind: type, status: int, counts: tuple[int, ...] | None) -> C_GET | C_MOVE:
    primitive = kind()
    primitive.MessageIDBeingRespondedTo = 7
    primitive.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.3"
    primitive.Status = status
    if counts is not None:
        remaining, completed, failed, warning = counts
        primitive.NumberOfRemainingSuboperations = remaining
        primitive.NumberOfCompletedSuboperations = completed
        primitive.NumberOfFailedSuboperations = failed
        primitive.NumberOfWarningSuboperations = warning
    return primitive


@pytest.mark.parametrize("max_pdu", MAX_PDUS)
@pytest.mark.parametrize("kind", [C_GET, C_MOVE])
@pytest.mark.parametrize(
    ("status", "counts", "failed_uids"),
    [
        (0xFF00, (199, 1, 0, 0), None),  # pending, after the first sub-operation
        (0x0000, (0, 200, 0, 0), None),  # success
        (0xB000, (0, 198, 2, 0), ["1.2.3.4", "1.2.3.5"]),  # warning: the failed UIDs
        (0xA801, None, None),  # unknown move destination: no counts
    ],
)
def test_a_retrieve_response_as_pynetdicom_sends_it(
    max_pdu: int,
    kind: type,
    status: int,
    counts: tuple[int, ...] | None,
    failed_uids: list[str] | None,
) -> None:
    primitive = _retrieve_response(kind, status, counts)
    if failed_uids is not None:
        identifier = Dataset()
        identifier.FailedSOPInstanceUIDList = failed_uids
        primitive.Identifier = BytesIO(encode(identifier, True, True))
    assert _written(primitive, max_pdu) == _pynetdicom_pdus(primitive, max_pdu)


def _store_request(originator: bool) -> C_STORE:
    primitive = C_STORE()
    primitive.MessageID = 3
    primitive.Priority = 2
    primitive.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    primitive.AffectedSOPInstanceUID = "1.2.3.4.5"  # odd: NUL padded
    if originator:
        primitive.MoveOriginatorApplicationEntityTitle = "MOVESCU"  # odd: space padded
        primitive.MoveOriginatorMessageID = 11
    return primitive


DATA_SET = bytes(range(256)) * 301 + b"\x01\x02"  # 77,058 bytes: fragments of every size


@pytest.mark.parametrize("max_pdu", [*MAX_PDUS, 16390])
@pytest.mark.parametrize("originator", [False, True])
def test_a_store_request_as_pynetdicom_sends_it(max_pdu: int, originator: bool) -> None:
    primitive = _store_request(originator)
    primitive.DataSet = BytesIO(DATA_SET)
    assert _written(primitive, max_pdu) == _pynetdicom_pdus(primitive, max_pdu)


@pytest.mark.parametrize("max_pdu", [*MAX_PDUS, 16390])
@pytest.mark.parametrize("data_set", [DATA_SET, b""])
@pytest.mark.parametrize("batch", [SEND_BATCH, 1000])
def test_a_store_request_of_a_file_as_pynetdicom_sends_it(
    tmp_path: Path, max_pdu: int, data_set: bytes, batch: int
) -> None:
    """The data set read from the file behind its File Meta group, however the reads and the
    batches fall against the fragments."""
    path = tmp_path / "instance.dcm"
    path.write_bytes(b"META" * 33 + data_set)
    primitive = _store_request(originator=False)
    primitive._dataset_path = (path, 132)
    written = _written(primitive, max_pdu, batch)
    assert written == _pynetdicom_pdus(primitive, max_pdu)
    if batch == 1000 and data_set and max_pdu:
        assert len(list(message_pdus(primitive, 5, max_pdu, batch) or [])) > 1


def test_messages_with_an_error_comment_left_to_pynetdicom() -> None:
    failed = _find_response(0xC000, None, "1.2.840.10008.5.1.4.1.2.2.1")
    failed.ErrorComment = "cannot read the identifier"
    assert message_pdus(failed, 1, 16384) is None
    moved = _retrieve_response(C_MOVE, 0xA801, None)
    moved.ErrorComment = "unknown destination"
    assert message_pdus(moved, 1, 16384) is None
    request = C_FIND()
    request.MessageID = 1
    request.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.1"
    assert message_pdus(request, 1, 16384) is None


def test_a_large_file_to_a_peer_without_a_maximum_goes_in_bounded_fragments(
    tmp_path: Path,
) -> None:
    """pynetdicom reads a file it sends to a peer with no maximum PDU length whole, into one
    fragment; openvna cuts it into SEND_BATCH fragments, which join up into the data set."""
    data_set = bytes(range(256)) * (SEND_BATCH // 256 * 2 + 3)  # two batches and a bit
    path = tmp_path / "large.dcm"
    path.write_bytes(b"META" * 33 + data_set)
    primitive = _store_request(originator=False)
    primitive._dataset_path = (path, 132)
    written = _written(primitive, 0)
    pdus, joined, offset = [], b"", 0
    while offset < len(written):
        length = struct.unpack_from(">I", written, offset + 2)[0]
        pdus.append(written[offset + 6 : offset + 6 + length])
        offset += 6 + length
    command, *fragments = pdus
    assert command[5] == 0x03  # the command, whole
    assert [f[5] for f in fragments] == [0x00, 0x00, 0x02]  # more, more, last
    assert max(len(f) - 6 for f in fragments) == SEND_BATCH
    joined = b"".join(f[6:] for f in fragments)
    assert joined == data_set


PLAIN_MODEL: dict[str, Any] = {
    "00080020": {"vr": "DA", "Value": ["20240101"]},
    "00080052": {"vr": "CS", "Value": ["STUDY"]},
    "00080054": {"vr": "AE", "Value": ["OPENVNA"]},
    "00080061": {"vr": "CS", "Value": ["CT", None, "PT"]},  # an empty value among several
    "00081030": {"vr": "LO"},  # asked, no value
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}, "Roe^Jane", None]},
    "00100020": {"vr": "LO", "Value": ["PID-1"]},  # odd: space padded
    "0020000D": {"vr": "UI", "Value": ["1.2.3.45"]},  # odd: NUL padded
    "00201206": {"vr": "IS", "Value": [12, "3", None]},
    "00201208": {"vr": "IS", "Value": []},
    "00280010": {"vr": "US", "Value": [512, 7]},
    "00181060": {"vr": "DS", "Value": ["72.5", 4]},
}


@pytest.mark.parametrize(("implicit", "name"), ENCODINGS)
def test_a_json_identifier_as_pydicom_writes_it(implicit: bool, name: str) -> None:
    fast = encode_json(PLAIN_MODEL, implicit)
    assert fast is not None
    assert fast == encode(json_to_dataset(PLAIN_MODEL), implicit, True)


_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=9)
_VALUES = {
    "LO": st.lists(st.none() | _TEXT.filter(lambda t: "\\" not in t), max_size=3),
    "UI": st.lists(st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True), max_size=2),
    "PN": st.lists(
        st.none() | _TEXT | st.fixed_dictionaries({"Alphabetic": _TEXT}) | st.just({}), max_size=2
    ),
    "IS": st.lists(st.none() | st.integers(-(2**31), 2**31 - 1) | st.floats(0, 9), max_size=3),
    "US": st.lists(st.integers(0, 2**16 - 1), max_size=3),
    "SL": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=2),
}
_TAGS = {
    "LO": ["00100020", "00081030"],
    "UI": ["0020000D", "0020000E"],
    "PN": ["00100010", "00080090"],
    "IS": ["00201208", "00200011"],
    "US": ["00280010"],
    "SL": ["00186020"],
}


@st.composite
def _models(draw: st.DrawFn) -> dict[str, Any]:
    model: dict[str, Any] = {}
    for vr in draw(st.lists(st.sampled_from(sorted(_VALUES)), max_size=5)):
        tag = draw(st.sampled_from(_TAGS[vr]))
        values = draw(_VALUES[vr])
        model[tag] = {"vr": vr, "Value": values} if draw(st.booleans()) or values else {"vr": vr}
    return model


@settings(max_examples=300, deadline=None)
@given(model=_models(), implicit=st.booleans())
def test_a_json_identifier_is_pydicoms_bytes_or_none(model: dict[str, Any], implicit: bool) -> None:
    """``encode_json`` writes what pydicom writes for the Dataset the JSON reader makes, for
    every model of plain values, and declines the others (and those the reader refuses)."""
    fast = encode_json(model, implicit)
    try:
        expected = encode(json_to_dataset(model), implicit, True)
    except BadRequest:
        assert fast is None
        return
    if _plain(model):
        assert fast == expected
    else:
        assert fast is None


def _plain(model: dict[str, Any]) -> bool:
    """Whether ``encode_json`` writes every value of ``model``: all but floats (their text is
    the JSON reader's) and names ending in "=" (taken for empty groups)."""
    for attribute in model.values():
        for value in attribute.get("Value", []):
            name = value.get("Alphabetic") if isinstance(value, dict) else value
            if isinstance(value, float) or (attribute["vr"] == "PN" and str(name).endswith("=")):
                return False
    return True


@pytest.mark.parametrize(
    "attribute",
    [
        ("00100010", {"vr": "PN", "Value": [{"Alphabetic": "D^J", "Ideographic": "D"}]}),
        ("00100010", {"vr": "PN", "Value": [{"Alphabetic": "D^J="}]}),
        ("00101030", {"vr": "DS", "Value": [72.5]}),  # a float's text: the JSON reader's
        ("00100020", {"vr": "LO", "Value": ["Dürer"]}),  # not ASCII
        ("00080005", {"vr": "CS", "Value": ["ISO_IR 100"]}),
        ("0008114a", {"vr": "SQ", "Value": []}),  # lower-case key
        ("00081110", {"vr": "SQ", "Value": [{}]}),
        ("00420011", {"vr": "OB", "InlineBinary": "AAAA"}),
        ("00100021", {"vr": "LO", "Value": "not a list"}),
        ("00280010", {"vr": "US", "Value": [True]}),
        ("00080056", {"vr": "UT", "Value": ["text"]}),
    ],
)
def test_a_json_identifier_left_to_pydicom(attribute: tuple[str, dict[str, Any]]) -> None:
    key, value = attribute
    assert encode_json({**PLAIN_MODEL, key: value}, True) is None


@pytest.mark.parametrize(("implicit", "name"), ENCODINGS)
def test_installed_encode_passes_an_encoded_identifier(implicit: bool, name: str) -> None:
    install()
    encoded = EncodedIdentifier(b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY ", implicit)
    patched = pynetdicom.service_class.encode
    assert patched(encoded, implicit, True) == encoded.data
    assert patched(encoded, not implicit, True) is None  # another syntax: not these bytes
    assert patched(encoded, implicit, True, True) is None  # deflated


@pytest.mark.parametrize(
    ("status", "more"), [(0xFF00, True), (0xFF01, True), (0x0000, False), (0xFE00, False)]
)
def test_pending_find_responses_wait_in_the_kernel_for_the_next(status: int, more: bool) -> None:
    """A pending C-FIND response is written with MSG_MORE (another response follows at once);
    the final one, which flushes them, without."""
    install()
    transport = Transport()
    identifier = b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY " if status > 0xFF else None
    primitive = _find_response(status, identifier, "1.2.840.10008.5.1.4.1.2.2.1")
    DIMSEServiceProvider.send_msg(sending_dimse(transport), primitive, 5)
    ((data, flags),) = transport.sent
    assert data == _pynetdicom_pdus(primitive, 0)
    assert flags == (socket.MSG_MORE if more else 0)


@pytest.mark.parametrize("max_pdu", MAX_PDUS)
@pytest.mark.parametrize("sop_class", ["1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.31"])
def test_pending_find_responses_written_directly_as_pynetdicom_sends_them(
    max_pdu: int, sop_class: str
) -> None:
    install()
    transport = Transport()
    writer = PendingFindResponses.of(sending_dimse(transport, max_pdu), sop_class, 513, 5)
    assert writer is not None
    identifiers = [b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY " * n for n in (1, 9)]
    for identifier in identifiers:
        writer.send(identifier)
    expected = [
        _pynetdicom_pdus(_find_response(0xFF00, identifier, sop_class), max_pdu)
        for identifier in identifiers
    ]
    assert transport.sent == [(data, socket.MSG_MORE) for data in expected]


def test_pending_find_responses_left_to_pynetdicom_when_a_handler_would_see_them() -> None:
    install()
    dimse = sending_dimse(Transport(), handlers=True)
    assert PendingFindResponses.of(dimse, "1.2.840.10008.5.1.4.1.2.2.1", 1, 5) is None


def _response(kind: type, status: int, **values: Any) -> Any:
    primitive = kind()
    primitive.MessageIDBeingRespondedTo = 9
    primitive.Status = status
    for name, value in values.items():
        setattr(primitive, name, value)
    return primitive


def _command_pdv(primitive: object) -> bytes:
    """The one PDV (message control header, command set) pynetdicom sends for a response with
    no data set."""
    message = _RSP_TO_MESSAGE[type(primitive)]()
    message.primitive_to_message(primitive)
    [pdata] = message.encode_msg(3, 0)
    [(_, pdv)] = pdata.presentation_data_value_list
    return bytes(pdv)


def _pynetdicom_decoded(pdv: bytes) -> Any:
    pdata = P_DATA()
    pdata.presentation_data_value_list.append((3, pdv))
    message = DIMSEMessage()
    assert message.decode_msg(pdata)
    return message.message_to_primitive()


def _attributes(primitive: object) -> dict[str, Any]:
    names = [n for n in dir(type(primitive)) if n[0].isupper()] + ["_context_id"]
    found = {n: getattr(primitive, n) for n in names}
    return {n: v.getvalue() if isinstance(v, BytesIO) else v for n, v in found.items()}


SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2"
COUNTS = {
    "NumberOfRemainingSuboperations": 4,
    "NumberOfCompletedSuboperations": 195,
    "NumberOfFailedSuboperations": 1,
    "NumberOfWarningSuboperations": 0,
}


@pytest.mark.parametrize(
    "response",
    [
        _response(C_STORE, 0x0000, AffectedSOPClassUID=SOP_CLASS, AffectedSOPInstanceUID="1.2.3"),
        _response(C_STORE, 0xB007, AffectedSOPClassUID=SOP_CLASS, AffectedSOPInstanceUID="1.23"),
        _response(C_STORE, 0xA700),  # the UIDs are optional in a response (U)
        _response(C_FIND, 0x0000, AffectedSOPClassUID="1.2.840.10008.5.1.4.1.2.2.1"),
        _response(C_GET, 0xB000, AffectedSOPClassUID="1.2.840.10008.5.1.4.1.2.2.3", **COUNTS),
        _response(C_MOVE, 0xFF00, AffectedSOPClassUID="1.2.840.10008.5.1.4.1.2.2.2", **COUNTS),
    ],
)
def test_a_response_read_as_pynetdicom_reads_it(response: object) -> None:
    pdv = _command_pdv(response)
    fast = decode_response(memoryview(pdv)[1:], 3)
    assert fast is not None
    assert type(fast) is type(response)
    assert _attributes(fast) == _attributes(_pynetdicom_decoded(pdv))


@pytest.mark.parametrize(
    "command",
    [
        _command_pdv(_response(C_STORE, 0xA700, ErrorComment="disk full"))[1:],  # optional
        _command_pdv(_response(C_STORE, 0x0000))[1:-2],  # cut short
        _command_pdv(_response(C_STORE, 0x0000))[1:] + b"\x00\x00\x00\x09\x02\x00\x00\x00\x00\x00",
        _command_pdv(_response(C_STORE, 0x0000))[1:].replace(b"\x01\x80", b"\x30\x80"),  # C-ECHO
    ],
    ids=["error comment", "truncated", "status twice", "another kind"],
)
def test_other_responses_left_to_pynetdicom(command: bytes) -> None:
    assert decode_response(command, 3) is None


@pytest.mark.parametrize("handlers", [False, True])
def test_a_response_received_is_queued_read_directly(handlers: bool) -> None:
    install()
    seen: list[Any] = []
    bound = [(seen.append, None)] if handlers else []
    assoc = SimpleNamespace(
        get_handlers=lambda event: bound, _abort_nonblocking=None, _abort_blocking=None
    )
    dimse = DIMSEServiceProvider(assoc)  # type: ignore[arg-type]
    pdata = P_DATA()
    pdata.presentation_data_value_list.append((3, _command_pdv(_response(C_STORE, 0xB007))))
    dimse.receive_primitive(pdata)
    context_id, response = dimse.msg_queue.get(block=False)
    assert (context_id, type(response), response.Status) == (3, C_STORE, 0xB007)
    # pynetdicom's decoder ran, and its event was triggered, only for a handler bound to it
    assert [e.message.command_set.Status for e in seen] == ([0xB007] if handlers else [])


def test_a_response_after_another_messages_fragment_is_pynetdicoms() -> None:
    install()
    dimse = DIMSEServiceProvider(SimpleNamespace(get_handlers=lambda event: []))  # type: ignore[arg-type]
    pdv = _command_pdv(_response(C_STORE, 0x0000))
    first, rest = pdv[:20], pdv[20:]
    for control, part in ((0x01, first[1:]), (0x03, rest)):  # one command set in two fragments
        pdata = P_DATA()
        pdata.presentation_data_value_list.append((3, bytes([control]) + part))
        dimse.receive_primitive(pdata)
    context_id, response = dimse.msg_queue.get(block=False)
    assert (context_id, response.Status, response.MessageIDBeingRespondedTo) == (3, 0x0000, 9)
