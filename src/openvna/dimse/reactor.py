"""pynetdicom's DUL reactor (PS3.8 §9: the upper layer's state machine), woken by what it waits for.

pynetdicom 3.0 runs each association's Upper Layer in a thread that polls: when a pass finds
nothing to do it sleeps 1 ms (``_run_loop_delay``) and looks again, at the socket (``select``
with a zero timeout) and at the queue of primitives the association hands it to send. Each PDU
of a C-STORE sub-operation goes through that queue, and the thread that encodes them is slower
than the reactor that sends them, so the reactor found the queue empty and slept between PDUs:
measured, 1339 sleeps (1.77 s) of a 2.2 s C-GET of 40 CT instances of 512 KB, sent in the
16 KB PDUs DCMTK peers accept; every response and every incoming PDU that found the reactor
asleep waited up to 1 ms as well.

``WakingDUL`` keeps pynetdicom's loop and state machine and changes only how it waits: with nothing
queued it blocks in ``select`` on the association's socket and on a wake-up socket, which every put
into its queues (from any thread: a primitive to send, an event of the transport) and every request
to stop signals. A pass that finds work does it at once; an idle association wakes ``IDLE_WAIT``
times a second instead of a thousand, which is all its timers (ARTIM, PS3.8 §9.1.5: tens of
seconds) need. The loop still calls ``time.sleep(0)`` after every pass that queued no event, which
is every P-DATA-TF PDU read directly (below): that lets go of the interpreter lock and queues for
it again behind whichever thread of the process wants it (another association's, an fsync's, the
UPS event reader), for up to the switch interval (5 ms). ``install`` makes that sleep, inside
``pynetdicom.dul`` only, return at once (``_DulClock``); the loop blocks in ``select`` when it has
nothing to do, so no thread starves. With the UPS event reader's back-off (``events``), two
storescu associations of 200 CT each: median 234 -> 253 inst/s over 18 alternating runs.
``install`` makes every association of this process use ``WakingDUL`` (the SCP's, and those openvna
requests: C-MOVE destinations, the SCU commands).

The association's own loop (``Association._run_reactor``, the thread that runs the handlers and
hands their responses over) polls the same way: it sleeps 1 ms between looks at the queue of
decoded messages, so each C-STORE waited up to a millisecond after its last PDU before its handler
ran, and a thread sending on an association (a C-MOVE's sub-operations) waited up to one for the
loop to pause. ``install`` makes that sleep, inside ``pynetdicom.association`` only, a wait on the
association's bell (``_ReactorClock``), which a decoded message, a primitive for the user (an
A-RELEASE or A-ABORT) and the end of the DUL ring; while it waits the loop counts as paused, as it
would be at its checkpoint, so a sender goes on at once.

A message goes to the DUL as P-DATA primitives, each of which takes a pass of the reactor, a
transition of the state machine and a PDU object to encode: ~30 of them for a 512 KB instance
sent to a peer that receives 16 KB PDUs. ``encoding.install`` makes ``send_msg`` encode a
message's PDUs itself and hand them to ``WakingDUL.send_message``, which writes them from the
sending thread when the association is transferring data (Sta6) and nothing it queued before is
still unsent; otherwise they are queued as one ``EncodedPData``, which the data transfer actions
(DT-1, and AR-7 during a release collision) send in one write. Every write to the socket holds
the DUL's send lock, so PDUs never interleave. A C-GET's or C-MOVE's sub-operation thus costs the
threads one hand-off (the response coming back) instead of three.

Receiving, pynetdicom reads a PDU 4 KB a ``recv`` call, copies it into a PDU object, queues its
event, steps the state machine, copies each PDV out of the PDU and once more into the message: for
a 512 KB instance in 128 KB PDUs, ~130 calls and four copies. While the association transfers
data (Sta6, where a P-DATA-TF PDU only hands its PDVs to DIMSE: DT-2), ``WakingDUL`` reads a
P-DATA-TF PDU whole and hands DIMSE its PDVs as views of it; any other PDU, a state,
or a PDU whose items do not add up is pynetdicom's, as is everything when a handler is bound to
an event of the receiving path.

Answering faster exposed a race of pynetdicom's association reactor, which ``install`` closes
too (``ReactorSafeDIMSE``): a thread that sends a request on an association (a C-MOVE
sub-operation, sent by the C-MOVE's thread on the association to the destination) pauses that
association's reactor so that the response comes to it, but the reactor can pass its pause
point just before the pause is asked for and then take the response off the queue itself
("Received unexpected C-STORE service message"), leaving the sender to time out and the
sub-association aborted: seen in 2 of 15 C-MOVEs under load.
"""

from __future__ import annotations

import contextlib
import queue
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pynetdicom.association
import pynetdicom.dul
import pynetdicom.fsm
from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu_primitives import P_DATA

from openvna.dimse.spooling import SpoolingReceiver, spooler_of

if TYPE_CHECKING:
    from pynetdicom.association import Association

__all__ = ["IDLE_WAIT", "EncodedPData", "ReactorSafeDIMSE", "WakingDUL", "install", "received_pdvs"]

IDLE_WAIT = 0.05  # seconds an idle reactor waits before looking at its timers again
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
_MORE: int = getattr(socket, "MSG_MORE", 0)
_ASSOCIATION_PASS = 0.001  # the sleep between passes of pynetdicom's association loop
_BELL = "_openvna_bell"
# Events whose handlers would miss what the direct receive skips: the bytes, the PDU, the step.
_RECEIVED_EVENTS = (evt.EVT_DATA_RECV, evt.EVT_PDU_RECV, evt.EVT_FSM_TRANSITION)
_P_DATA_TF = b"\x04"  # PDU type (PS3.8 Table 9-22)
_READ_STEP = 1 << 20  # bytes asked of the socket at most a call, reading a PDU
# The state machine's actions that send a P-DATA-TF PDU for a P-DATA request (PS3.8 Table 9-10).
_DATA_ACTIONS = ("DT-1", "AR-7")


class EncodedPData(P_DATA):
    """P-DATA-TF PDUs encoded (PS3.8 §9.3.5), for the DUL to send as they are."""

    def __init__(self, encoded: bytes) -> None:
        super().__init__()
        self.encoded = encoded


class _Alarm:
    """A socket pair: one thread rings, the reactor's ``select`` hears it."""

    def __init__(self) -> None:
        self.ear, self._bell = socket.socketpair()
        self.ear.setblocking(False)
        self._bell.setblocking(False)
        self.armed = False  # the reactor is about to wait, or waiting: a put must ring

    def ring(self) -> None:
        if self.armed:
            # OSError: rung already (buffer full) or closed: the reactor is awake, or gone
            with contextlib.suppress(OSError):
                self._bell.send(b"\0")

    def hush(self) -> None:
        with contextlib.suppress(OSError):  # nothing left to read (or closed)
            while self.ear.recv(4096):
                pass

    def close(self) -> None:
        self.ear.close()
        self._bell.close()


class _RingingQueue(queue.Queue[Any]):
    """A queue whose ``put`` rings whoever waits for it."""

    def __init__(self, ring: Callable[[], object]) -> None:
        super().__init__()
        self._ring = ring

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self._ring()


def _bell(assoc: Association) -> threading.Event:
    """The event the association's loop waits on (made by whichever provider asks first)."""
    bell: threading.Event | None = assoc.__dict__.get(_BELL)
    if bell is None:
        bell = threading.Event()
        setattr(assoc, _BELL, bell)
    return bell


class _ReactorClock:
    """``time`` as ``pynetdicom.association`` sees it: the association loop's pause between
    passes becomes a wait on its bell (see the module's docstring); every other use is
    ``time``'s own."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        assoc = threading.current_thread()
        bell = assoc.__dict__.get(_BELL) if seconds == _ASSOCIATION_PASS else None
        if not isinstance(bell, threading.Event):
            time.sleep(seconds)
            return
        assoc._is_paused = True  # type: ignore[attr-defined]  # the loop pauses right after
        bell.clear()
        if not _association_has_work(assoc):
            bell.wait(IDLE_WAIT)


def _association_has_work(assoc: Any) -> bool:
    """Whether the association's loop has something to do on its next pass."""
    return bool(
        assoc._kill
        or not assoc.dimse.msg_queue.empty()
        or not assoc.dul.to_user_queue.empty()
        or not assoc.dul.is_alive()
    )


class _DulClock:
    """``time`` as ``pynetdicom.dul`` sees it: its loop's ``sleep(0)`` between passes returns at
    once (see the module's docstring); every other use is ``time``'s own."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class WakingDUL(DULServiceProvider):
    """pynetdicom's DUL service provider, waiting in ``select`` instead of sleeping (see the
    module's docstring)."""

    def __init__(self, assoc: Association) -> None:
        super().__init__(assoc)
        self._alarm = _Alarm()
        self.event_queue = _RingingQueue(self._alarm.ring)
        self.to_provider_queue = _RingingQueue(self._alarm.ring)
        self._bell = _bell(assoc)
        self.to_user_queue = _RingingQueue(self._bell.set)
        self._send_lock = threading.Lock()
        # pynetdicom sleeps this long after a pass that handled no event; this one waits in
        # ``_wait`` instead, and a PDU read directly (``_read_pdu_data``) queues no event.
        self._run_loop_delay = 0
        self._data_queued = 0  # P-DATA primitives queued and not yet sent (under the lock)

    def run_reactor(self) -> None:
        transport = self.socket.socket if self.socket is not None else None
        if transport is not None and transport.family in (socket.AF_INET, socket.AF_INET6):
            transport.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            super().run_reactor()
        finally:
            self._alarm.close()
            self._bell.set()
            spooler = spooler_of(self.assoc)
            if spooler is not None:
                spooler.end()  # the association is over: what no handler took goes

    def send_message(self, batches: Iterable[bytes], more: bool = False) -> None:
        """Send a message's PDUs (``batches`` of them, encoded): written from this thread when
        the association is transferring data and nothing queued before them is unsent, else
        queued in order behind it. ``more``: another message follows at once (a pending
        C-FIND response), so the PDUs may wait in the kernel for it (see ``_write``)."""
        for encoded in batches:
            with self._send_lock:
                if self._data_queued == 0 and self.state_machine.current_state == "Sta6":
                    if not self._write(encoded, more):
                        return  # the connection is closing (Evt17): the rest has nowhere to go
                    continue
            self.send_pdu(EncodedPData(encoded))

    def send_pdu(self, primitive: Any) -> None:
        if isinstance(primitive, P_DATA):
            with self._send_lock:
                self._data_queued += 1
        super().send_pdu(primitive)

    def sent_queued_data(self, encoded: bytes | None) -> None:
        """A queued P-DATA primitive has been taken by the state machine: write its PDUs when
        given (``EncodedPData``), and count it sent."""
        with self._send_lock:
            if encoded is not None:
                self._write(encoded)
            self._data_queued -= 1

    def _read_pdu_data(self) -> None:
        """Read the next PDU: a P-DATA-TF PDU during data transfer straight to DIMSE (see the
        module's docstring), anything else pynetdicom's way."""
        if not self._receives_directly():
            super()._read_pdu_data()
            return
        header = _read_exactly(self.socket, 6)
        if len(header) < 6:
            self.event_queue.put("Evt17")  # closed before a whole PDU (pynetdicom: the same)
            return
        length = struct.unpack(">I", header[2:])[0]
        body = _read_exactly(self.socket, length)
        if len(body) != length:
            self.event_queue.put("Evt17")
            return
        primitive = received_pdvs(body)
        if primitive is None:  # items that do not add up: pynetdicom decodes and refuses
            self._decoded(header + body)
            return
        self.assoc.dimse.receive_primitive(primitive)

    def _receives_directly(self) -> bool:
        """Whether the next PDU, if it is a P-DATA-TF, can go straight to DIMSE."""
        if self.state_machine.current_state != "Sta6" or self.socket is None:
            return False
        if any(self.assoc.get_handlers(event) for event in _RECEIVED_EVENTS):
            return False
        transport = self.socket.socket
        try:
            return transport is not None and transport.recv(1, socket.MSG_PEEK) == _P_DATA_TF
        except OSError:
            return False  # pynetdicom's read meets the error and closes
        except ValueError:
            return False  # a TLS socket takes no flags: pynetdicom's read

    def _decoded(self, pdu: bytes) -> None:
        """Hand a whole PDU to pynetdicom's decoder and state machine, as its read would."""
        try:
            decoded, event = self._decode_pdu(bytearray(pdu))
        except Exception:  # pynetdicom: any decoding failure is an invalid PDU
            self.event_queue.put("Evt19")
            return
        self.event_queue.put(event)
        self._recv_pdu.put(decoded)

    def _send(self, pdu: Any) -> None:
        with self._send_lock:
            super()._send(pdu)

    def _write(self, encoded: bytes, more: bool = False) -> bool:
        """Write PDUs as they are (the send lock held); a connection that fails is closed
        (Evt17), as pynetdicom handles a failed send, and False returned.

        ``more`` sends with Linux's ``MSG_MORE``: the kernel holds what does not fill a segment
        until the next write without it (the final response always comes), instead of
        delivering each write on its own. On loopback that delivery was ~12 µs of the 45 µs a
        pending C-FIND response cost the DIMSE process, and a peer on the network gets full
        segments instead of one per response."""
        transport = self.socket.socket if self.socket is not None else None
        try:
            if transport is None:
                raise OSError("no connection")
            flags = _MORE if more and not isinstance(transport, ssl.SSLSocket) else 0
            transport.sendall(encoded, flags)
        except OSError:
            self.event_queue.put("Evt17")
            return False
        return True

    def kill_dul(self) -> None:
        super().kill_dul()
        self._alarm.ring()

    def stop_dul(self) -> bool:
        """pynetdicom's: stop the reactor if the association is idle (Sta1), waiting for it to
        end; with no sleep between passes (``_run_loop_delay``) the wait is a join."""
        self._bell.set()  # the association is being killed: its loop should see it
        if self.state_machine.current_state != "Sta1":
            return False
        self._kill_thread = True
        self._alarm.ring()
        if threading.current_thread() is not self:
            self.join()
        return True

    def _is_transport_event(self) -> bool:
        """pynetdicom's check for incoming data, once the socket has data, a primitive has been
        queued to send (its event queued here: the loop handles it in this pass), an event has
        been queued, or ``IDLE_WAIT`` has passed."""
        if self.state_machine.current_state != "Sta13":
            self._wait()
            if not self.event_queue.empty():
                return False  # this pass handles it (the primitive's event comes after)
            if not self.to_provider_queue.empty():
                # Its event only: the primitive stays queued until the state machine takes it,
                # and a second event for it (one more pass before that) would send the next.
                self._process_recv_primitive()
                return False
        return super()._is_transport_event()

    def _wait(self) -> None:
        alarm = self._alarm
        alarm.armed = True
        try:
            if not (self.to_provider_queue.empty() and self.event_queue.empty()):
                return
            if self._kill_thread:
                return
            watched = [alarm.ear]
            transport = self.socket.socket if self.socket is not None else None
            if transport is not None and transport.fileno() != -1:
                watched.append(transport)
                _ack_at_once(transport)
            try:
                select.select(watched, [], [], IDLE_WAIT)
            except (OSError, ValueError):  # closed meanwhile: pynetdicom's check reports it
                return
            alarm.hush()
        finally:
            alarm.armed = False


def _ack_at_once(transport: socket.socket) -> None:
    """Acknowledge what comes next at once (Linux ``TCP_QUICKACK``, which the kernel clears
    again): a peer with Nagle's algorithm on (DCMTK without ``TCP_NODELAY=1`` in its environment)
    writes a C-STORE-RSP as a 12-byte header then its command, and holds the command until the
    header is acknowledged: ~40 ms of delayed ACK per sub-operation of a C-GET otherwise."""
    if _QUICKACK is not None and transport.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            transport.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


class ReactorSafeDIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE service provider, giving the association's reactor nothing while a
    ``send_*`` call waits for its response (see the module's docstring), and ringing the
    association's bell when a message is decoded."""

    def __init__(self, assoc: Association) -> None:
        super().__init__(assoc)
        self.msg_queue = _RingingQueue(_bell(assoc).set)
        self._spooling: SpoolingReceiver | None = None

    def receive_primitive(self, primitive: P_DATA) -> None:
        """pynetdicom's, or through the association's spooler if it has one (``spooling``)."""
        if self._spooling is None:
            spooler = spooler_of(self.assoc)
            if spooler is None:
                super().receive_primitive(primitive)
                return
            self._spooling = SpoolingReceiver(self, spooler, super().receive_primitive)
        self._spooling.receive(primitive)

    def get_msg(self, block: bool = False) -> Any:
        # Only the reactor asks without blocking; a cleared checkpoint means a sender is between
        # pausing it and taking its response, whatever the reactor's pause flag says.
        if not block and not self.assoc._reactor_checkpoint.is_set():
            return None, None
        return super().get_msg(block)


def _read_exactly(sock: Any, size: int) -> bytes:
    """``size`` bytes from the association's socket, or fewer when the peer closes first or the
    read fails. Read ``_READ_STEP`` at most a call, so that the memory taken follows the bytes
    that came, not the length a PDU header claims (up to 4 GB)."""
    transport = sock.socket
    chunks: list[bytes] = []
    read = 0
    try:
        while read < size:
            chunk = transport.recv(min(size - read, _READ_STEP))
            if not chunk:
                break
            chunks.append(chunk)
            read += len(chunk)
    except (OSError, AttributeError):
        pass
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def received_pdvs(body: bytes) -> P_DATA | None:
    """A P-DATA primitive of the PDV items of a P-DATA-TF PDU's body (PS3.8 §9.3.5.1: length,
    presentation context ID, a message control header and its fragment), each a view of
    ``body``; None unless the items fill the body exactly and each has its header."""
    primitive = P_DATA()
    pdvs = primitive.presentation_data_value_list
    view = memoryview(body)
    offset = 0
    while offset < len(body):
        if offset + 6 > len(body):
            return None
        length = struct.unpack_from(">I", body, offset)[0]
        end = offset + 4 + length
        if length < 2 or end > len(body):
            return None
        pdvs.append((body[offset + 4], view[offset + 5 : end]))  # type: ignore[arg-type]
        offset = end
    return primitive if pdvs else None


def _sending_encoded(name: str) -> Any:
    """State machine action ``name`` (DT-1 or AR-7), which sends an ``EncodedPData`` itself."""
    description, action, next_state = pynetdicom.fsm.ACTIONS[name]
    if getattr(action, "sends_encoded", False):
        return description, action, next_state

    def act(dul: DULServiceProvider) -> str:
        if not isinstance(dul, WakingDUL):
            return str(action(dul))
        primitive = dul.to_provider_queue.queue[0]
        if isinstance(primitive, EncodedPData):
            dul.to_provider_queue.get(False)
            dul.sent_queued_data(primitive.encoded)
            return str(next_state)
        try:
            return str(action(dul))
        finally:
            dul.sent_queued_data(None)

    act.sends_encoded = True  # type: ignore[attr-defined]
    return description, act, next_state


def install() -> None:
    """Make the associations this process creates from now on use ``WakingDUL`` and
    ``ReactorSafeDIMSE``, wait on their bell between passes, and not sleep between the DUL's."""
    pynetdicom.association.time = _ReactorClock()  # type: ignore[attr-defined,assignment]
    pynetdicom.dul.time = _DulClock()  # type: ignore[attr-defined,assignment]
    for name in _DATA_ACTIONS:
        pynetdicom.fsm.ACTIONS[name] = _sending_encoded(name)
    pynetdicom.association.DULServiceProvider = WakingDUL  # type: ignore[attr-defined]
    pynetdicom.association.DIMSEServiceProvider = ReactorSafeDIMSE  # type: ignore[attr-defined]
