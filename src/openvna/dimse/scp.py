"""The SCP: openvna's application entity, its handlers, and its server on a listening socket.

``ArchiveEntity`` is pynetdicom's ``ApplicationEntity`` with two things of the archive's own: the
calling AE titles it admits come from the remote node registry at each association (so that a
node added through the admin API is admitted at once; with ``dimse.allow_unknown`` they are not
checked), and every association it requests (C-MOVE destinations, the SCU commands) sends stored
files undecoded (``retrieve.send_files_as_stored``).

``serve`` runs the server on a socket that is already listening: the one the supervisor bound
and shares among the DIMSE processes (``openvna.dimse.worker``), or a test's. The socket is made
non-blocking, so that a process that loses the race for a connection to another goes back to
waiting rather than blocking in ``accept``; a process serving associations waits a little before
it accepts (``openvna.balance``), so that an idle sibling takes the connection (without it, two
peers that connect together landed in one process one time in eight). Each association is a
thread of its own, as pynetdicom runs them. A C-STORE's data set goes to a spool file as its PDUs
arrive (``dimse.spooling``), and ``maximum_pdu_size`` 0 (no limit) lets a peer send it in as few
PDUs as it likes, which is what spares pynetdicom's reactor most of its loops; each PDU is read
whole, so what is held in memory is a PDU, not a data set.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.transport import AssociationServer

from openvna.archive import Archive
from openvna.archive.remotes import RemoteRegistry, Right
from openvna.balance import accept_delay
from openvna.dimse.commitment import commitment_requested
from openvna.dimse.contexts import STORAGE_COMMITMENT_PUSH, add_scp_contexts
from openvna.dimse.encoding import install as install_encoding
from openvna.dimse.events import EventReporter
from openvna.dimse.find import find_matches
from openvna.dimse.negotiation import extended_negotiation
from openvna.dimse.reactor import install as install_reactor
from openvna.dimse.retrieve import get_instances, move_instances, send_files_as_stored
from openvna.dimse.spooling import attach
from openvna.dimse.store import (
    REFUSED_NOT_AUTHORIZED,
    SpoolFiles,
    discard_received,
    status_of,
    store_received,
)
from openvna.dimse.ups import UPS_SOP_CLASSES, UpsHandlers, is_ups_find
from openvna.dimse.worklist import MODALITY_WORKLIST_FIND, is_worklist_find, worklist_matches
from openvna.settings import Settings
from openvna.ups import Workitems

__all__ = [
    "ArchiveEntity",
    "DimseServer",
    "build_entity",
    "busy_associations",
    "serve",
    "server_on",
    "start",
]

log = logging.getLogger("openvna.dimse")

# Stored files are sent by path, in chunks, without being decoded (retrieve.py).
_config.STORE_SEND_CHUNKED_DATASET = True
# pynetdicom logs every PDU (handlers) and every response (info): openvna logs what it decides.
_config.LOG_HANDLER_LEVEL = "none"
logging.getLogger("pynetdicom").setLevel(logging.WARNING)
# Its debug lines of each identifier are formatted whatever the level (pretty_dataset, ~15 µs a
# C-FIND response), and never shown at WARNING.
_config.LOG_REQUEST_IDENTIFIERS = _config.LOG_RESPONSE_IDENTIFIERS = False
# Command sets and C-FIND identifiers encoded without pydicom's writer (encoding.py).
install_encoding()
# Each association's Upper Layer waits for its socket and its queues instead of polling them.
install_reactor()
_WORKLIST_SYNTAXES = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
_NOBODY = ["\\"]  # no AE title can be a backslash (PS3.5 Table 6.2-1): nobody is admitted


class ArchiveEntity(AE):
    """The archive's AE (see the module's docstring)."""

    def __init__(self, ae_title: str, remotes: RemoteRegistry) -> None:
        super().__init__(ae_title)
        self.remotes = remotes

    @property
    def require_calling_aet(self) -> list[str]:
        if self.remotes.allow_unknown:
            return []
        return [node.aet for node in self.remotes.nodes()] or _NOBODY

    @require_calling_aet.setter
    def require_calling_aet(self, ae_titles: list[str]) -> None:
        pass  # AE.__init__ sets it empty: the registry decides

    def associate(self, *args: Any, **kwargs: Any) -> Association:
        assoc = super().associate(*args, **kwargs)
        send_files_as_stored(assoc)
        return assoc


def build_entity(settings: Settings, archive: Archive) -> tuple[ArchiveEntity, list[Any]]:
    """The SCP's AE and its event handlers, from the settings."""
    dimse = settings.dimse
    remotes = RemoteRegistry(dimse.remotes, settings.storage.data_dir, dimse.allow_unknown)
    ae = ArchiveEntity(dimse.ae_title, remotes)
    ae.maximum_pdu_size = 0
    ae.maximum_associations = 64
    for timeout in ("acse_timeout", "dimse_timeout", "network_timeout"):
        setattr(ae, timeout, dimse.timeout)
    add_scp_contexts(ae)
    for uid in (MODALITY_WORKLIST_FIND, *UPS_SOP_CLASSES):
        ae.add_supported_context(uid, _WORKLIST_SYNTAXES)
    title = dimse.ae_title
    workitems = Workitems(archive)
    ups = UpsHandlers(workitems)
    handlers: list[Any] = [
        (evt.EVT_C_ECHO, _echo),
        (evt.EVT_N_CREATE, _allowed(remotes, "store", ups.n_create)),
        (evt.EVT_N_SET, _allowed(remotes, "store", ups.n_set)),
        (
            evt.EVT_N_ACTION,
            _by_class(
                {
                    STORAGE_COMMITMENT_PUSH: lambda e: commitment_requested(
                        e, archive, remotes, title
                    )
                },
                _allowed(remotes, "store", ups.n_action),
            ),
        ),
        (evt.EVT_N_GET, _allowed(remotes, "query", ups.n_get)),
        (evt.EVT_SOP_EXTENDED, extended_negotiation),
        (evt.EVT_REQUESTED, lambda e: attach(e.assoc, SpoolFiles(archive.spool_dir()))),
        (evt.EVT_C_STORE, _storing(remotes, archive)),
        (
            evt.EVT_C_FIND,
            _generator(remotes, "query", lambda e: _find(e, archive, ups, title)),
        ),
        (evt.EVT_C_GET, _generator(remotes, "retrieve", lambda e: get_instances(e, archive))),
        (
            evt.EVT_C_MOVE,
            _generator(remotes, "retrieve", lambda e: move_instances(e, archive, remotes)),
        ),
    ]
    return ae, handlers


def _find(event: Any, archive: Archive, ups: UpsHandlers, title: str) -> Iterator[Any]:
    """Query/Retrieve C-FIND, or Modality Worklist and UPS C-FIND over the workitem service."""
    if is_worklist_find(event):
        return worklist_matches(event, ups.workitems)
    if is_ups_find(event):
        return ups.c_find(event)
    return find_matches(event, archive, title)


def _by_class(handlers: dict[str, Callable[[Any], Any]], otherwise: Callable[[Any], Any]) -> Any:
    """One handler per SOP class for an event pynetdicom binds once (N-ACTION: Storage
    Commitment, UPS)."""

    def handle(event: Any) -> Any:
        return handlers.get(str(event.context.abstract_syntax), otherwise)(event)

    return handle


def _echo(event: Any) -> int:
    """C-ECHO (PS3.4 A.4): success, whoever asks."""
    return 0x0000


def _calling(event: Any) -> str:
    return str(event.assoc.requestor.ae_title).strip()


def _allowed(remotes: RemoteRegistry, right: Right, handler: Callable[[Any], Any]) -> Any:
    def handle(event: Any) -> Any:
        if not remotes.may(_calling(event), right):
            return status_of(REFUSED_NOT_AUTHORIZED, f"{_calling(event)} may not {right}")
        return handler(event)

    return handle


def _storing(remotes: RemoteRegistry, archive: Archive) -> Any:
    """C-STORE for nodes with the store right; a refused request's spooled data set goes at
    once rather than with its association."""
    allowed = _allowed(remotes, "store", lambda e: store_received(e, archive))

    def handle(event: Any) -> Any:
        try:
            return allowed(event)
        finally:
            discard_received(event)  # nothing left once stored: the batch took the file

    return handle


def _generator(remotes: RemoteRegistry, right: Right, handler: Callable[[Any], Any]) -> Any:
    def handle(event: Any) -> Iterator[Any]:
        if not remotes.may(_calling(event), right):
            raise PermissionError(f"{_calling(event)} may not {right}")
        yield from handler(event)

    return handle


class _Shared(list[Any]):
    """The supported contexts, given to each association as they are rather than deep-copied.

    pynetdicom 3.0 deep-copies the server's contexts for every association
    (``RequestHandler._create_association``): with every storage SOP class in every transfer
    syntax that is ~180 contexts of ~40 syntaxes, 60-120 ms of each association's set-up
    (measured: an echoscu took 160-360 ms, Orthanc answers in ~10). Negotiation only reads them
    (``presentation.negotiate_as_acceptor`` builds new contexts for its answer), so one list
    serves every association."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        return self


class DimseServer(AssociationServer):
    """pynetdicom's association server on a socket that is listening already; ``shared``: other
    processes accept on it too (see the module's docstring)."""

    def __init__(
        self, *args: Any, listening: socket.socket, shared: bool = False, **kwargs: Any
    ) -> None:
        self._listening = listening
        self._shared = shared
        super().__init__(*args, **kwargs)
        self.contexts = _Shared(self.contexts)

    def server_bind(self) -> None:
        if self.socket is not None:
            self.socket.close()  # the one TCPServer made: the inherited socket serves instead
        self.socket = self._listening
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()

    def server_activate(self) -> None:
        pass  # listening already

    def get_request(self) -> tuple[socket.socket, Any]:
        if self._shared:
            busy = busy_associations(self.active_associations)
            time.sleep(accept_delay(busy))  # an idle sibling accepts meanwhile
        client, address = self._listening.accept()  # BlockingIOError: another process took it
        client.setblocking(True)
        return client, address


def busy_associations(associations: Iterable[Association]) -> int:
    """How many of a process's associations are under way, those still negotiating included:
    two peers that connect together (storescu runs started at once) reach a process before the
    first has sent its A-ASSOCIATE-RQ, and counting established ones only, that process took
    both (1 run of 8 of two storescu: 277-317 inst/s against 390-470 when spread). One that has
    ended (released, aborted, rejected) but whose thread is finishing is not busy."""
    return sum(1 for a in associations if not (a.is_released or a.is_aborted or a.is_rejected))


def start(settings: Settings, archive: Archive, sock: socket.socket) -> DimseServer:
    """Serve ``sock`` from a thread of this process; ``shutdown()`` stops it."""
    server = _make(settings, archive, sock)
    threading.Thread(target=server.serve_forever, name="openvna-dimse", daemon=True).start()
    return server


def serve(settings: Settings, archive: Archive, sock: socket.socket) -> None:
    """Serve ``sock`` in this thread until ``shutdown()`` is called from another."""
    _make(settings, archive, sock).serve_forever()


def _make(settings: Settings, archive: Archive, sock: socket.socket) -> DimseServer:
    ae, handlers = build_entity(settings, archive)
    server = server_on(ae, handlers, sock, shared=settings.dimse.processes > 1)
    # UPS events to the DICOM subscribers, while this server's socket is open (ups: dimse.events)
    serving = lambda: sock.fileno() != -1  # noqa: E731
    EventReporter(ae.ae_title, Workitems(archive), ae.remotes, serving).start()
    return server


def server_on(
    ae: ArchiveEntity, handlers: list[Any], sock: socket.socket, shared: bool = False
) -> DimseServer:
    """``ae``'s association server on the listening ``sock`` (not started); ``shared``: other
    processes serve it too."""
    server = ae.make_server(
        sock.getsockname(),
        evt_handlers=handlers,
        server_class=DimseServer,
        listening=sock,
        shared=shared,
    )
    assert isinstance(server, DimseServer)
    ae._servers.append(server)  # type: ignore[arg-type]  # shut down with the AE
    return server
