"""The SCU side (issue 9, "SCU"): echo, find, move, get and send to a remote node. The CLI
(``cli/scu.py``) prints; the admin REST API reaches it as the ``archive.scu.Scu`` port
(``DimseScu``); this module speaks DIMSE.

A remote is given as ``AET@host:port`` or by the AE title of a known remote node (settings or
``/api/remotes``). Files go out as they lie on disk (pynetdicom's chunked send of a path, no
decoding), each over a presentation context of its own SOP class and transfer syntax. A remote
that cannot be reached, rejects the association (with its PS3.8 Table 9-21 reason) or answers
a failure raises ``DimseFailure``, a ``BadGateway``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pynetdicom import AE, _config, build_context, build_role, evt
from pynetdicom.association import Association
from pynetdicom.dsutils import encode_file_meta, split_dataset
from pynetdicom.pdu import A_ASSOCIATE_RJ

from openvna.archive import Archive
from openvna.archive.remotes import RemoteRegistry
from openvna.archive.scu import CANCEL, Cancelled, Model, Progress, Remote, Transfer
from openvna.dimse.contexts import (
    FIND_MODELS,
    GET_MODELS,
    MOVE_MODELS,
    STORAGE_CLASSES,
    UNCOMPRESSED,
    VERIFICATION,
)
from openvna.dimse.retrieve import MAX_CONTEXTS
from openvna.dimse.store import store_received
from openvna.errors import BadGateway, BadRequest

__all__ = [
    "DimseFailure",
    "DimseScu",
    "echo",
    "find",
    "get",
    "move",
    "parse_remote",
    "send_files",
    "writing_to",
]

_config.STORE_SEND_CHUNKED_DATASET = True
_TARGET = re.compile(r"^(?P<aet>[^@\\]{1,16})@(?P<host>[^:]+|\[[^\]]+\]):(?P<port>\d{1,5})$")
_MODELS = {"study": 1, "patient": 0}
_PREAMBLE = bytes(128) + b"DICM"
_MESSAGE_ID = 1  # one request an association: a C-CANCEL names it


class DimseFailure(BadGateway):
    """The remote cannot be reached, refuses the association, or answers with a failure."""


def parse_remote(text: str, registry: RemoteRegistry) -> Remote:
    """``AET@host:port``, or the AE title of a known node; BadRequest otherwise."""
    found = _TARGET.match(text.strip())
    if found:
        return Remote(found["aet"].strip(), found["host"].strip("[]"), int(found["port"]))
    node = registry.get(text.strip())
    if node is None:
        raise BadRequest(f"{text}: neither AET@host:port nor a known remote node")
    return Remote(node.aet, node.host, node.port)


def _associate(
    calling: str, remote: Remote, contexts: list[Any], timeout: float, **kwargs: Any
) -> Association:
    ae = AE(calling)
    ae.maximum_pdu_size = 0
    for name in ("acse_timeout", "dimse_timeout", "network_timeout"):
        setattr(ae, name, timeout)
    ae.requested_contexts = contexts
    # A peer that rejects and closes at once (DCMTK's storescp --refuse) can have its
    # A-ASSOCIATE-RJ read, and the closed connection seen, before pynetdicom's requestor looks
    # at its queue: it then aborts, with no answer recorded (7 of 100 associations here). The
    # PDU itself is noted as it arrives, and the rejection reported from it either way.
    rejections: list[A_ASSOCIATE_RJ] = []

    def heard(event: evt.Event) -> None:
        if isinstance(event.pdu, A_ASSOCIATE_RJ):
            rejections.append(event.pdu)

    handlers = [*kwargs.pop("evt_handlers", []), (evt.EVT_PDU_RECV, heard)]
    try:
        assoc = ae.associate(
            remote.host, remote.port, ae_title=remote.aet, evt_handlers=handlers, **kwargs
        )
    except OSError as exc:  # a host name that does not resolve
        raise DimseFailure(f"{remote} cannot be reached: {exc}") from exc
    assoc.unbind(evt.EVT_PDU_RECV, heard)  # nothing more to hear: not on every later PDU
    answer = assoc.acceptor.primitive  # its A-ASSOCIATE-AC or -RJ, if it answered at all
    if rejections:  # one wording whichever way pynetdicom took
        rejection = rejections[0]
        raise DimseFailure(
            f"{remote} rejected the association: {rejection.reason_str} ({rejection.result_str})"
        )
    if not assoc.is_established:
        accepted = answer is not None and answer.result == 0x00
        raise DimseFailure(
            f"{remote} {'accepted no presentation context' if accepted else 'did not answer'}"
        )
    return assoc


def echo(calling: str, remote: Remote, timeout: float = 30) -> int:
    """C-ECHO; the status."""
    assoc = _associate(calling, remote, [build_context(VERIFICATION)], timeout)
    try:
        status = assoc.send_c_echo()
        return _status(status)
    finally:
        assoc.release()


def find(
    calling: str, remote: Remote, query: Dataset, model: str = "study", timeout: float = 30
) -> Iterator[Dataset]:
    """C-FIND: the matches, as they come; DimseFailure on a failure status."""
    uid = FIND_MODELS[_MODELS[model]]
    assoc = _associate(calling, remote, [build_context(uid)], timeout)
    try:
        for status, answer in assoc.send_c_find(query, uid):
            code = _status(status)
            if code in (0xFF00, 0xFF01) and answer is not None:
                yield answer
            elif code not in (0x0000, 0xFE00):
                raise DimseFailure(f"C-FIND failed with status {code:04X}{_comment(status)}")
    finally:
        if assoc.is_established:
            assoc.release()


def move(
    calling: str,
    remote: Remote,
    query: Dataset,
    destination: str,
    model: str = "study",
    timeout: float = 30,
    progress: Progress | None = None,
) -> Transfer:
    """C-MOVE to ``destination`` (an AE the remote knows)."""
    uid = MOVE_MODELS[_MODELS[model]]
    assoc = _associate(calling, remote, [build_context(uid)], timeout)
    try:
        responses = assoc.send_c_move(query, destination, uid, msg_id=_MESSAGE_ID)
        return _counted(responses, progress, _canceller(assoc, uid))
    finally:
        if assoc.is_established:
            assoc.release()


def writing_to(directory: Path) -> Callable[[Any], int]:
    """A C-STORE handler for ``get`` that writes each instance to ``directory`` as received
    (Part 10, named by its SOP Instance UID)."""
    directory.mkdir(parents=True, exist_ok=True)

    def on_store(event: Any) -> int:
        sop = str(event.request.AffectedSOPInstanceUID)
        (directory / f"{sop}.dcm").write_bytes(
            _PREAMBLE + encode_file_meta(event.file_meta) + event.encoded_dataset(False)
        )
        return 0x0000

    return on_store


def get(
    calling: str,
    remote: Remote,
    query: Dataset,
    on_store: Callable[[Any], Any],
    model: str = "study",
    timeout: float = 30,
    progress: Progress | None = None,
) -> Transfer:
    """C-GET, each instance the remote sends on the association (PS3.4 C.4.3) handed to
    ``on_store`` (``writing_to`` a directory, or the archive's C-STORE handler), whose status
    answers the sub-operation. Storage contexts are proposed for every storage SOP class in the
    uncompressed syntaxes (a remote that stores compressed images sends them decompressed or
    fails them)."""
    uid = GET_MODELS[_MODELS[model]]
    classes = STORAGE_CLASSES[: MAX_CONTEXTS - 1]
    storage = [build_context(c, list(UNCOMPRESSED)) for c in classes]
    roles = [build_role(c, scp_role=True) for c in classes]
    assoc = _associate(
        calling,
        remote,
        [build_context(uid), *storage],
        timeout,
        ext_neg=roles,
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    try:
        responses = assoc.send_c_get(query, uid, msg_id=_MESSAGE_ID)
        return _counted(responses, progress, _canceller(assoc, uid))
    finally:
        if assoc.is_established:
            assoc.release()


def send_files(
    calling: str,
    remote: Remote,
    paths: list[Path],
    timeout: float = 30,
    progress: Progress | None = None,
) -> Transfer:
    """C-STORE each Part 10 file as it lies on disk, over one association (contexts by SOP
    class and transfer syntax; files beyond ``MAX_CONTEXTS`` pairs go on further
    associations)."""
    result = Transfer()
    headers = []
    for path in paths:
        try:
            headers.append((path, split_dataset(path)[0]))
        except Exception:  # not a Part 10 file: pydicom says so in many ways
            result.failed += 1
            result.failed_uids.append(str(path))
    pairs: dict[tuple[str, str], None] = {}
    for _, meta in headers:
        pairs[(str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))] = None
    ordered = list(pairs)
    for start in range(0, len(ordered), MAX_CONTEXTS):
        chunk = set(ordered[start : start + MAX_CONTEXTS])
        contexts = [build_context(sop, syntax) for sop, syntax in chunk]
        assoc = _associate(calling, remote, contexts, timeout)
        try:
            for path, meta in headers:
                if (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID)) in chunk:
                    _store_one(assoc, path, str(meta.MediaStorageSOPInstanceUID), result)
                    if not _going_on(progress, result, len(paths)):
                        result.status = CANCEL
                        return result
        finally:
            if assoc.is_established:
                assoc.release()
    return result


def _going_on(progress: Progress | None, result: Transfer, total: int) -> bool:
    """Report progress; False when the caller asked to stop (``Cancelled``)."""
    if progress is None:
        return True
    try:
        progress(result, total)
    except Cancelled:
        return False
    return True


def _store_one(assoc: Association, path: Path, sop: str, result: Transfer) -> None:
    try:
        status = assoc.send_c_store(path)
        code = _status(status)
    except (ValueError, AttributeError, RuntimeError):
        code = 0xC000  # no accepted context for it, or the association went away
    if code == 0x0000:
        result.completed += 1
    elif code in (0xB000, 0xB006, 0xB007) or code >> 12 == 0xB:
        result.warning += 1
    else:
        result.failed += 1
        result.failed_uids.append(sop)


def _counted(responses: Any, progress: Progress | None, cancel: Callable[[], None]) -> Transfer:
    """The counts of C-MOVE or C-GET responses; when ``progress`` asks to stop, ``cancel``
    sends the C-CANCEL and the responses are read on to the peer's last (PS3.4 C.4.2.3.1:
    FE00 with the counts so far)."""
    result = Transfer()
    cancelled = False
    for status, answer in responses:
        code = _status(status)
        result.completed = int(status.get("NumberOfCompletedSuboperations", result.completed))
        result.failed = int(status.get("NumberOfFailedSuboperations", result.failed))
        result.warning = int(status.get("NumberOfWarningSuboperations", result.warning))
        remaining = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
        total = result.done + remaining
        if not cancelled and not _going_on(progress, result, total):
            cancelled = True
            cancel()
        if code not in (0xFF00,):
            result.status = code
            if answer is not None and "FailedSOPInstanceUIDList" in answer:
                value = answer.FailedSOPInstanceUIDList
                values = value if isinstance(value, list) else [value]
                result.failed_uids = [str(v) for v in values if v]  # empty: none failed
    return result


def _canceller(assoc: Association, model: str) -> Callable[[], None]:
    """C-CANCEL of the request sent with ``_MESSAGE_ID`` (PS3.7 9.3.2.3, 9.3.3.3)."""
    return lambda: assoc.send_c_cancel(_MESSAGE_ID, query_model=model)


def _status(status: Dataset) -> int:
    if "Status" not in status:
        raise DimseFailure("no response (the association was aborted or timed out)")
    return int(status.Status)


def _comment(status: Dataset) -> str:
    comment = status.get("ErrorComment")
    return f": {comment}" if comment else ""


class DimseScu:
    """The ``archive.scu.Scu`` port over this module: calling as ``calling``, waiting
    ``timeout`` seconds for the remote, storing what a C-GET brings into ``archive`` through
    the SCP's own C-STORE path (the same checks, duplicates policy and statuses). Without an
    archive (the CLI, whose ``get`` writes to a directory) a C-GET has nowhere to go."""

    def __init__(self, calling: str, timeout: float, archive: Archive | None = None) -> None:
        self.calling = calling
        self.timeout = timeout
        self.archive = archive

    def echo(self, remote: Remote) -> int:
        return echo(self.calling, remote, self.timeout)

    def find(self, remote: Remote, query: Dataset, model: Model) -> Iterator[Dataset]:
        return find(self.calling, remote, query, model, self.timeout)

    def move(
        self,
        remote: Remote,
        query: Dataset,
        destination: str,
        model: Model,
        progress: Progress | None = None,
    ) -> Transfer:
        return move(self.calling, remote, query, destination, model, self.timeout, progress)

    def get(
        self, remote: Remote, query: Dataset, model: Model, progress: Progress | None = None
    ) -> Transfer:
        archive = self.archive
        if archive is None:
            raise BadRequest("C-GET into the archive needs an archive to store into")
        return get(
            self.calling,
            remote,
            query,
            lambda event: store_received(event, archive),
            model,
            self.timeout,
            progress,
        )

    def send(self, remote: Remote, paths: list[Path], progress: Progress | None = None) -> Transfer:
        return send_files(self.calling, remote, paths, self.timeout, progress)
