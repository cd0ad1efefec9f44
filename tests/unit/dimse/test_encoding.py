"""Command sets and identifiers encoded without pydicom's writer: pydicom's bytes, or none."""

from __future__ import annotations

from io import BytesIO

import pynetdicom.service_class
import pytest
from pydicom import Dataset
from pydicom.dataset import Dataset as PlainDataset
from pydicom.sequence import Sequence
from pynetdicom.dimse_messages import C_FIND_RSP, C_STORE_RQ
from pynetdicom.dimse_primitives import C_FIND, C_STORE
from pynetdicom.dsutils import encode

from openvna.dicom.json import json_to_dataset
from openvna.dimse.encoding import encode_simple, find_response_pdata, install

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


def _find_response(status: int, identifier: bytes | None, sop_class: str) -> C_FIND:
    primitive = C_FIND()
    primitive.MessageIDBeingRespondedTo = 513
    primitive.AffectedSOPClassUID = sop_class
    primitive.Status = status
    if identifier is not None:
        primitive.Identifier = BytesIO(identifier)
    return primitive


@pytest.mark.parametrize("max_pdu", [0, 16384, 40])
@pytest.mark.parametrize(
    ("status", "identifier"),
    [(0xFF00, b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY " * 9), (0x0000, None), (0xFE00, None)],
)
@pytest.mark.parametrize("sop_class", ["1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.31"])
def test_a_find_response_as_pynetdicom_sends_it(
    max_pdu: int, status: int, identifier: bytes | None, sop_class: str
) -> None:
    primitive = _find_response(status, identifier, sop_class)
    message = C_FIND_RSP()
    message.primitive_to_message(primitive)
    expected = [p.presentation_data_value_list for p in message.encode_msg(5, max_pdu)]
    fast = find_response_pdata(primitive, 5, max_pdu)
    assert fast is not None
    assert [p.presentation_data_value_list for p in fast] == expected


def test_find_responses_with_an_error_comment_left_to_pynetdicom() -> None:
    failed = _find_response(0xC000, None, "1.2.840.10008.5.1.4.1.2.2.1")
    failed.ErrorComment = "cannot read the identifier"
    assert find_response_pdata(failed, 1, 16384) is None
    request = C_FIND()
    request.MessageID = 1
    request.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.1"
    assert find_response_pdata(request, 1, 16384) is None
