"""The SCU side (issue 9, "SCU"): echo, find, move, get and send to a remote node, and retrieve
(find there, then move here). The CLI (``cli/scu.py``) prints; this module speaks DIMSE.

A remote is given as ``AET@host:port`` or by the AE title of a known remote node (settings or
``/api/remotes``). Query keys are DCMTK's ``-k`` form: ``Keyword=value`` or ``gggg,eeee=value``,
a key without ``=`` asking for that attribute back (universal matching). Files go out as they lie
on disk (pynetdicom's chunked send of a path, no decoding), each over a presentation context of
its own SOP class and transfer syntax.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pynetdicom import AE, _config, build_context, build_role, evt
from pynetdicom.association import Association
from pynetdicom.dsutils import encode_file_meta, split_dataset

from openvna.archive.remotes import RemoteRegistry
from openvna.dimse.contexts import (
    FIND_MODELS,
    GET_MODELS,
    MOVE_MODELS,
    STORAGE_CLASSES,
    UNCOMPRESSED,
    VERIFICATION,
)
from openvna.dimse.retrieve import MAX_CONTEXTS
from openvna.errors import BadRequest

__all__ = [
    "DimseFailure",
    "Remote",
    "Transfer",
    "echo",
    "find",
    "get",
    "identifier",
    "move",
    "parse_remote",
    "send_files",
]

_config.STORE_SEND_CHUNKED_DATASET = True
_TARGET = re.compile(r"^(?P<aet>[^@\\]{1,16})@(?P<host>[^:]+|\[[^\]]+\]):(?P<port>\d{1,5})$")
_MODELS = {"study": 1, "patient": 0}
_PREAMBLE = bytes(128) + b"DICM"


class DimseFailure(Exception):
    """The remote cannot be reached, refuses the association, or answers with a failure."""


@dataclass(frozen=True)
class Remote:
    aet: str
    host: str
    port: int


@dataclass
class Transfer:
    """What a C-MOVE, C-GET or a send came to (PS3.4 C.4.2.1.5 counts, or one per file)."""

    completed: int = 0
    failed: int = 0
    warning: int = 0
    status: int = 0x0000
    failed_uids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.status in (0x0000, 0xB000)


def parse_remote(text: str, registry: RemoteRegistry) -> Remote:
    """``AET@host:port``, or the AE title of a known node; BadRequest otherwise."""
    found = _TARGET.match(text.strip())
    if found:
        return Remote(found["aet"].strip(), found["host"].strip("[]"), int(found["port"]))
    node = registry.get(text.strip())
    if node is None:
        raise BadRequest(f"{text}: neither AET@host:port nor a known remote node")
    return Remote(node.aet, node.host, node.port)


def identifier(level: str, keys: Iterable[str]) -> Dataset:
    """A query identifier from ``-k`` keys (BadRequest names a key that is not an attribute)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    for key in keys:
        name, _, value = key.partition("=")
        name = name.strip()
        tag = _tag(name)
        ds.add_new(tag, dictionary_VR(tag), value or None)
    return ds


def _tag(name: str) -> int:
    if re.fullmatch(r"[0-9A-Fa-f]{4},[0-9A-Fa-f]{4}", name):
        return int(name.replace(",", ""), 16)
    tag = tag_for_keyword(name)
    if tag is None:
        raise BadRequest(f"{name}: not a DICOM keyword (or gggg,eeee)")
    return int(tag)


def _associate(
    calling: str, remote: Remote, contexts: list[Any], timeout: float, **kwargs: Any
) -> Association:
    ae = AE(calling)
    ae.maximum_pdu_size = 0
    for name in ("acse_timeout", "dimse_timeout", "network_timeout"):
        setattr(ae, name, timeout)
    ae.requested_contexts = contexts
    assoc = ae.associate(remote.host, remote.port, ae_title=remote.aet, **kwargs)
    if not assoc.is_established:
        why = "rejected the association" if assoc.is_rejected else "did not answer"
        raise DimseFailure(f"{remote.aet}@{remote.host}:{remote.port} {why}")
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
    progress: Callable[[Transfer, int], None] | None = None,
) -> Transfer:
    """C-MOVE to ``destination`` (an AE the remote knows)."""
    uid = MOVE_MODELS[_MODELS[model]]
    assoc = _associate(calling, remote, [build_context(uid)], timeout)
    try:
        return _counted(assoc.send_c_move(query, destination, uid), progress)
    finally:
        if assoc.is_established:
            assoc.release()


def get(
    calling: str,
    remote: Remote,
    query: Dataset,
    directory: Path,
    model: str = "study",
    timeout: float = 30,
    progress: Callable[[Transfer, int], None] | None = None,
) -> Transfer:
    """C-GET, each instance written to ``directory`` as received (Part 10, named by its SOP
    Instance UID). Storage contexts are proposed for every storage SOP class in the uncompressed
    syntaxes (a remote that stores compressed images sends them decompressed or fails them)."""
    uid = GET_MODELS[_MODELS[model]]
    directory.mkdir(parents=True, exist_ok=True)

    def on_store(event: Any) -> int:
        sop = str(event.request.AffectedSOPInstanceUID)
        (directory / f"{sop}.dcm").write_bytes(
            _PREAMBLE + encode_file_meta(event.file_meta) + event.encoded_dataset(False)
        )
        return 0x0000

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
        return _counted(assoc.send_c_get(query, uid), progress)
    finally:
        if assoc.is_established:
            assoc.release()


def send_files(
    calling: str,
    remote: Remote,
    paths: list[Path],
    timeout: float = 30,
    progress: Callable[[Transfer, int], None] | None = None,
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
                    if progress:
                        progress(result, len(paths))
        finally:
            if assoc.is_established:
                assoc.release()
    return result


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


def _counted(responses: Any, progress: Callable[[Transfer, int], None] | None) -> Transfer:
    result = Transfer()
    for status, answer in responses:
        code = _status(status)
        result.completed = int(status.get("NumberOfCompletedSuboperations", result.completed))
        result.failed = int(status.get("NumberOfFailedSuboperations", result.failed))
        result.warning = int(status.get("NumberOfWarningSuboperations", result.warning))
        remaining = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
        if progress:
            progress(result, result.completed + result.failed + result.warning + remaining)
        if code not in (0xFF00,):
            result.status = code
            if answer is not None and "FailedSOPInstanceUIDList" in answer:
                value = answer.FailedSOPInstanceUIDList
                values = value if isinstance(value, list) else [value]
                result.failed_uids = [str(v) for v in values]
    return result


def _status(status: Dataset) -> int:
    if "Status" not in status:
        raise DimseFailure("no response (the association was aborted or timed out)")
    return int(status.Status)


def _comment(status: Dataset) -> str:
    comment = status.get("ErrorComment")
    return f": {comment}" if comment else ""
