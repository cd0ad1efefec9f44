"""A lean C-FIND SCU for the one-association C-FIND rows: pynetdicom's PDU and message classes
encode what is sent, and the answers are read straight off a blocking socket.

Why not pynetdicom's ``Association``: its DUL thread polls the socket every millisecond when
idle and decodes every response's identifier into a pydicom Dataset before handing it over, ~0.4
ms of client time per pending answer here; that is more than either server spends on a C-FIND
and would bring every ratio towards 1. Here a response costs a PDU read and a scan of its command
set for the Status (PS3.7 E.1); identifiers are counted, not decoded.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from io import BytesIO
from types import TracebackType

from pydicom import Dataset
from pydicom.uid import ImplicitVRLittleEndian
from pynetdicom.dimse_messages import C_FIND_RQ
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, A_RELEASE_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context

from bench.client import CheckError

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1
IMPLEMENTATION_CLASS = "1.2.826.0.1.3680043.9.7433.1.1"
_CONTEXT_ID = 1
_PENDING = (0xFF00, 0xFF01)
_STATUS_TAG = b"\x00\x00\x00\x09"  # (0000,0900) in little endian: group 0000, element 0900


class FindAssociation:
    """One association proposing ``sop_class`` in Implicit VR Little Endian; ``find`` sends a
    C-FIND-RQ and returns how many pending answers came before the final status."""

    def __init__(self, host: str, port: int, calling: str, called: str, sop_class: str) -> None:
        self.sop_class = sop_class
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.message_id = 0
        request = A_ASSOCIATE()
        request.application_context_name = APPLICATION_CONTEXT
        request.calling_ae_title = calling
        request.called_ae_title = called
        context = build_context(sop_class, [ImplicitVRLittleEndian])
        context.context_id = _CONTEXT_ID
        request.presentation_context_definition_list = [context]
        length = MaximumLengthNotification()
        length.maximum_length_received = 0  # no limit
        implementation = ImplementationClassUIDNotification()
        implementation.implementation_class_uid = IMPLEMENTATION_CLASS
        request.user_information = [length, implementation]
        pdu = A_ASSOCIATE_RQ()
        pdu.from_primitive(request)
        self.sock.sendall(pdu.encode())
        kind, body = self._read_pdu()
        if kind != 0x02:  # A-ASSOCIATE-AC
            raise CheckError(f"association to {called} answered with PDU type {kind:#x}")
        answer = A_ASSOCIATE_AC()
        answer.decode(struct.pack(">BBI", kind, 0, len(body)) + body)
        (result,) = answer.to_primitive().presentation_context_definition_results_list
        if result.result != 0:
            raise CheckError(f"{called} did not accept {sop_class} in Implicit VR LE")

    def find(self, identifier: Dataset) -> int:
        """Send one C-FIND-RQ; read to its final response; a failure status is a CheckError."""
        self.message_id += 1
        primitive = C_FIND()
        primitive.MessageID = self.message_id
        primitive.AffectedSOPClassUID = self.sop_class
        primitive.Priority = 0
        primitive.Identifier = BytesIO(encode(identifier, True, True))
        message = C_FIND_RQ()
        message.primitive_to_message(primitive)
        for data in message.encode_msg(_CONTEXT_ID, 0):
            pdu = P_DATA_TF()
            pdu.from_primitive(data)
            self.sock.sendall(pdu.encode())
        pending = 0
        for status in self._statuses():
            if status in _PENDING:
                pending += 1
            elif status == 0x0000:
                return pending
            else:
                break
        raise CheckError(f"C-FIND answered status {status:#06x}")

    def _statuses(self) -> Iterator[int]:
        """The Status of each response's command set as it completes, in order; data set
        fragments are skipped (a PDU may carry several PDVs, PS3.8 9.3.5)."""
        command = bytearray()
        while True:
            kind, body = self._read_pdu()
            if kind != 0x04:  # P-DATA-TF
                raise CheckError(f"expected P-DATA-TF, got PDU type {kind:#x}")
            at = 0
            while at < len(body):
                (length,) = struct.unpack_from(">I", body, at)
                header = body[at + 5]
                if header & 0x01:  # a command fragment (PS3.8 E.2)
                    command += body[at + 6 : at + 4 + length]
                    if header & 0x02:
                        yield _status(bytes(command))
                        command.clear()
                at += 4 + length

    def _read_pdu(self) -> tuple[int, bytes]:
        head = self._read_exactly(6)
        kind, _, length = struct.unpack(">BBI", head)
        return kind, self._read_exactly(length)

    def _read_exactly(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            got = self.sock.recv(size - len(chunks))
            if not got:
                raise CheckError("the server closed the association")
            chunks += got
        return bytes(chunks)

    def close(self) -> None:
        """A-RELEASE-RQ, wait for the A-RELEASE-RP, close."""
        try:
            self.sock.sendall(A_RELEASE_RQ().encode())
            self._read_pdu()
        finally:
            self.sock.close()

    def __enter__(self) -> FindAssociation:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _status(command: bytes) -> int:
    """The (0000,0900) Status of an Implicit VR Little Endian command set (PS3.7 E.1)."""
    at = 0
    while at + 8 <= len(command):
        tag = command[at : at + 4]
        (length,) = struct.unpack_from("<I", command, at + 4)
        if tag == _STATUS_TAG:
            (value,) = struct.unpack_from("<H", command, at + 8)
            return int(value)
        at += 8 + length
    raise CheckError("a C-FIND response without a Status")
