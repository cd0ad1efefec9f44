"""C-STORE data sets received into spool files fragment by fragment (``dimse.spooling``), with
pynetdicom's own decoding for everything else, and nothing left when the association ends."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pydicom.filewriter import dcmwrite
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom.dimse_messages import C_ECHO_RQ, C_STORE_RQ
from pynetdicom.dimse_primitives import C_ECHO, C_STORE
from pynetdicom.pdu_primitives import P_DATA

from openvna.dimse.reactor import ReactorSafeDIMSE
from openvna.dimse.spooling import attach, spooled, store_request
from openvna.dimse.store import SpoolFile, SpoolFiles, file_meta
from tests.factories import make_instance

_CONTEXT = 1


class _Context:
    def __init__(self) -> None:
        self.transfer_syntax = [ExplicitVRLittleEndian]


class _Association:
    """What the DIMSE provider asks of its association."""

    def __init__(self) -> None:
        self._accepted_cx = {_CONTEXT: _Context()}
        self.dul: Any = None

    def get_handlers(self, event: Any) -> list[Any]:
        return []


def _provider(spool: Path) -> tuple[ReactorSafeDIMSE, SpoolFiles]:
    assoc: Any = _Association()
    provider = ReactorSafeDIMSE(assoc)
    spooler = SpoolFiles(spool)
    attach(assoc, spooler)
    return provider, spooler


def _store_request(data: bytes) -> list[P_DATA]:
    request = C_STORE()
    request.MessageID = 7
    request.AffectedSOPClassUID = CTImageStorage
    request.AffectedSOPInstanceUID = "1.2.3.4"
    request.Priority = 2
    request.DataSet = BytesIO(data)
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    return list(message.encode_msg(_CONTEXT, 4096))


def _dataset() -> bytes:
    buffer = BytesIO()
    dcmwrite(buffer, make_instance(rows=64, columns=64), implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def test_a_store_requests_data_set_goes_to_its_spool_file_as_it_arrives(tmp_path: Path) -> None:
    provider, spooler = _provider(tmp_path)
    data = _dataset()
    primitives = _store_request(data)
    assert len(primitives) > 3
    for primitive in primitives[:-1]:
        provider.receive_primitive(primitive)
        assert provider.msg_queue.empty()
    [partial] = list(tmp_path.iterdir())  # written while the rest was still to come
    assert partial.stat().st_size > 0
    provider.receive_primitive(primitives[-1])
    context_id, request = provider.msg_queue.get_nowait()
    assert context_id == _CONTEXT and isinstance(request, C_STORE)
    assert request.MessageID == 7 and request.AffectedSOPInstanceUID == "1.2.3.4"
    sink = spooled(request)
    assert isinstance(sink, SpoolFile) and sink.path == partial and sink.error is None
    meta = file_meta(CTImageStorage, "1.2.3.4", ExplicitVRLittleEndian)
    assert partial.read_bytes() == bytes(128) + b"DICM" + meta + data
    assert spooler.claim(sink) and not spooler.claim(sink)
    spooler.end()
    assert partial.exists()  # claimed: the handler's to keep


def test_other_messages_take_pynetdicoms_path(tmp_path: Path) -> None:
    provider, _ = _provider(tmp_path)
    echo = C_ECHO()
    echo.MessageID = 3
    echo.AffectedSOPClassUID = "1.2.840.10008.1.1"
    message = C_ECHO_RQ()
    message.primitive_to_message(echo)
    for primitive in message.encode_msg(_CONTEXT, 4096):
        provider.receive_primitive(primitive)
    _, request = provider.msg_queue.get_nowait()
    assert isinstance(request, C_ECHO) and request.MessageID == 3
    assert spooled(request) is None
    assert list(tmp_path.iterdir()) == []


def test_what_no_handler_took_goes_when_the_association_ends(tmp_path: Path) -> None:
    provider, spooler = _provider(tmp_path)
    whole = _store_request(_dataset())
    for primitive in whole:  # received, never handled
        provider.receive_primitive(primitive)
    for primitive in _store_request(_dataset())[:2]:  # cut off in its data set
        provider.receive_primitive(primitive)
    assert len(list(tmp_path.iterdir())) == 2
    spooler.end()
    assert list(tmp_path.iterdir()) == []
    _, request = provider.msg_queue.get_nowait()
    assert not spooler.claim(spooled(request))  # type: ignore[arg-type]


def test_a_spool_that_cannot_be_written_keeps_its_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    provider, _ = _provider(missing)
    for primitive in _store_request(_dataset()):
        provider.receive_primitive(primitive)
    _, request = provider.msg_queue.get_nowait()
    sink = spooled(request)
    assert isinstance(sink, SpoolFile)
    assert sink.path is None and sink.error is not None
    assert sink.error.startswith("cannot create a spool file")


@pytest.mark.parametrize("originator", [None, ("MOVESCU", 12)])
def test_a_store_request_is_the_primitive_pynetdicom_makes(
    originator: tuple[str, int] | None,
) -> None:
    sent = C_STORE()
    sent.MessageID = 9
    sent.AffectedSOPClassUID = CTImageStorage
    sent.AffectedSOPInstanceUID = "1.2.3.4.5"
    sent.Priority = 1
    if originator is not None:
        sent.MoveOriginatorApplicationEntityTitle, sent.MoveOriginatorMessageID = originator
    sent.DataSet = BytesIO(b"\0\0")
    message = C_STORE_RQ()
    message.primitive_to_message(sent)
    message.context_id = 5
    expected = message.message_to_primitive()
    made = store_request(message.command_set, 5)
    keywords = [k for k in C_STORE.REQUEST_KEYWORDS if k != "DataSet"]
    keywords += ["MoveOriginatorApplicationEntityTitle", "MoveOriginatorMessageID"]
    assert [getattr(made, k) for k in keywords] == [getattr(expected, k) for k in keywords]
    assert made._context_id == expected._context_id == 5
    assert made.is_valid_request
