"""C-STORE data sets written to the spool as their fragments arrive, not gathered in memory.

pynetdicom gathers a message's data set fragments (PS3.8 Annex E: the PDVs whose message control
header says data) into a ``BytesIO`` under the interpreter lock, and the C-STORE handler then
writes that buffer to a spool file from the association's thread, after the last fragment: for a
512 KB CT, a copy held under the lock and a write in the path of every response. An association
that carries a ``Spooler`` (``attach``; the archive's SCP attaches one to each association it
accepts, ``dimse.store``) has the data set of each C-STORE-RQ written instead to a ``Sink`` the
spooler opens once the request's command set is decoded: by the DUL thread, fragment by fragment
as each P-DATA-TF PDU is read (``os.write`` lets go of the lock), while the peer is still sending
the rest. The request is queued as pynetdicom queues it, its primitive carrying the sink
(``spooled``), and pynetdicom's own path keeps every other message and every association
without a spooler (the proxy's, those openvna requests).

A sink is its spooler's until a handler takes it (``Spooler.claim``); when the association ends
(``WakingDUL`` calls ``Spooler.end``) every sink not taken is removed: a peer that aborts in the
middle of a data set, or whose last requests were never answered, leaves nothing behind.

Measured (bench/RESULTS.md): a 200 MB instance sent by storescu, the DIMSE process's peak
resident memory 507 -> 296 MB (what is left is the PDU being read and the checksum's map of the
file); one storescu association of 200 CT, median 230 -> 241 inst/s over 18 alternating runs;
two associations, where both cores are busy, unchanged (351 and 340 inst/s).
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydicom import Dataset
from pynetdicom import evt
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.pdu_primitives import P_DATA

if TYPE_CHECKING:
    from pynetdicom.association import Association
    from pynetdicom.dimse import DIMSEServiceProvider

__all__ = [
    "Sink",
    "Spooler",
    "SpoolingReceiver",
    "attach",
    "spooled",
    "spooler_of",
    "store_request",
]

_SPOOLER = "_openvna_spooler"
_SPOOLED = "_openvna_spooled"
_COMMAND = 0x01  # message control header bits (PS3.8 Annex E.2)
_LAST = 0x02
# The C-STORE request's parameters a command set carries (PS3.7 Table 9.3-1).
_STORE_PARAMETERS = (
    "MessageID",
    "AffectedSOPClassUID",
    "AffectedSOPInstanceUID",
    "Priority",
    "MoveOriginatorApplicationEntityTitle",
    "MoveOriginatorMessageID",
)


class Sink(Protocol):
    """Where one data set's fragments go, in order."""

    def write(self, fragment: memoryview) -> None: ...

    def close(self) -> None: ...


class Spooler(Protocol):
    """Opens a sink for each C-STORE-RQ of an association; removes, at its end, the sinks no
    handler claimed."""

    def open(self, command: Dataset, transfer_syntax: str) -> Sink: ...

    def claim(self, sink: Sink) -> bool: ...

    def end(self) -> None: ...


def attach(assoc: Association, spooler: Spooler) -> None:
    """Receive ``assoc``'s C-STORE data sets through ``spooler`` from now on."""
    setattr(assoc, _SPOOLER, spooler)


def spooler_of(assoc: Association) -> Spooler | None:
    found: Spooler | None = assoc.__dict__.get(_SPOOLER)
    return found


def spooled(request: object) -> Sink | None:
    """The sink a received C-STORE request's data set went to, if it was spooled."""
    sink: Sink | None = getattr(request, _SPOOLED, None)
    return sink


class SpoolingReceiver:
    """An association's DIMSE receiving with a spooler (see the module's docstring): PDVs go one
    at a time to pynetdicom's ``decode`` (``DIMSEServiceProvider.receive_primitive``), but the
    data fragments of a C-STORE-RQ once its command set is decoded go to its sink."""

    def __init__(
        self,
        provider: DIMSEServiceProvider,
        spooler: Spooler,
        decode: Callable[[P_DATA], None],
    ) -> None:
        self.provider = provider
        self.spooler = spooler
        self.decode = decode
        self.sink: Sink | None = None

    def receive(self, primitive: P_DATA) -> None:
        for context_id, data in primitive.presentation_data_value_list:
            control = data[0]
            if self.sink is not None and not control & _COMMAND:
                self.sink.write(memoryview(data)[1:])
                if control & _LAST:
                    self._complete()
                continue
            single = P_DATA()
            single.presentation_data_value_list.append((context_id, data))
            self.decode(single)
            if control & (_COMMAND | _LAST) == _COMMAND | _LAST:
                self._open(context_id)

    def _open(self, context_id: int) -> None:
        """After a command set's last fragment: a C-STORE-RQ still waiting for its data set
        (pynetdicom has not completed it) gets a sink."""
        message = self.provider.message
        if not isinstance(message, C_STORE_RQ):
            return
        context: Any = self.provider.assoc._accepted_cx.get(context_id)
        if context is None:
            return  # not a context of this association: pynetdicom's path refuses it
        self.sink = self.spooler.open(message.command_set, str(context.transfer_syntax[0]))

    def _complete(self) -> None:
        """The data set's last fragment is written: queue the request as pynetdicom would."""
        sink, self.sink = self.sink, None
        message, self.provider.message = self.provider.message, None
        assert sink is not None and message is not None
        sink.close()
        evt.trigger(self.provider.assoc, evt.EVT_DIMSE_RECV, {"message": message})
        try:
            request = store_request(message.command_set, cast(int, message.context_id))
        except Exception:  # pynetdicom: an invalid message ends the association (Evt19)
            self.provider.dul.event_queue.put("Evt19")
            return  # the sink is removed with the association
        setattr(request, _SPOOLED, sink)
        queued: Any = (message.context_id, request)
        self.provider.msg_queue.put(queued)


def store_request(command: Dataset, context_id: int) -> C_STORE:
    """The C-STORE request primitive of a C-STORE-RQ's command set (PS3.7 Table 9.3-1), as
    pynetdicom's ``message_to_primitive`` makes it, with an empty data set: its parameters set
    directly rather than by trying every element of the command set against the primitive's
    attributes (31 against 87 µs a request, which was 7% of the DIMSE process's time holding
    the GIL under two storescu associations)."""
    request = C_STORE()
    for keyword in _STORE_PARAMETERS:
        value = command.get(keyword)
        if value is not None:
            setattr(request, keyword, value)
    request.DataSet = BytesIO()  # empty: the data set is the sink's (pynetdicom wants one)
    request._context_id = context_id
    return request
