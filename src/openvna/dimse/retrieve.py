"""C-GET and C-MOVE SCP (PS3.4 C.4.2, C.4.3): the stored files sent as they lie on disk.

The identifier's unique keys select entities at its level (``identifier.retrieve_query``, one
find); each entity's instances come from ``Archive.retrieve``. Each instance goes out as a C-STORE
sub-operation of the file as stored: pynetdicom sends a file given by path in chunks, without
decoding it (``STORE_SEND_CHUNKED_DATASET``), in the stored transfer syntax, so a peer that has
not accepted that syntax for the SOP class gets a failed sub-operation (no transcoder is installed,
as WADO-RS offers only the stored syntaxes). pynetdicom's service class insists on a Dataset for
each sub-operation; ``StoredFile`` is one that carries the path, and ``send_files_as_stored``
makes an association's ``send_c_store`` send that path.

Statuses and sub-operation counts are pynetdicom's, per PS3.4 C.4.2.1.5 and C.4.3.1.4: pending
after each sub-operation, success when all succeeded, warning (B000) with the failed SOP
Instance UIDs when some failed, A702 when all failed, FE00 on C-CANCEL (checked before each
sub-operation, C.4.2.3.2). Nothing to send (a study that is not here) is success with zero
sub-operations. A C-MOVE destination that is not a known remote node is A801.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydicom import Dataset, dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import build_context
from pynetdicom.presentation import PresentationContext

from openvna.archive import Archive, StoredInstance
from openvna.archive.remotes import RemoteRegistry
from openvna.dicom.matching import AnyOf, Single
from openvna.dicom.query import Level, Query
from openvna.dicom.tags import tag_hex
from openvna.dimse.contexts import UNCOMPRESSED
from openvna.dimse.identifier import LEVEL_KEYS, retrieve_query
from openvna.errors import InvalidQuery, NotFound

if TYPE_CHECKING:
    from pynetdicom.association import Association
    from pynetdicom.events import Event

__all__ = [
    "MAX_CONTEXTS",
    "StoredFile",
    "contexts_for_pairs",
    "get_instances",
    "move_instances",
    "selected_instances",
    "send_files_as_stored",
]

log = logging.getLogger("openvna.dimse")

PENDING = 0xFF00
CANCEL = 0xFE00
MAX_SUBOPERATIONS = 65535  # the counts are US (PS3.7 C.4.2.1.5)
MAX_CONTEXTS = 128  # presentation context IDs are odd numbers 1-255 (PS3.8 §9.3.2.2)
_STUDY, _SERIES, _SOP = (
    tag_hex(LEVEL_KEYS[level]) for level in (Level.STUDY, Level.SERIES, Level.INSTANCE)
)

_NATIVE = frozenset(UNCOMPRESSED)
Response = Any  # what pynetdicom's C-GET / C-MOVE generators yield: counts, addresses, statuses


class StoredFile(Dataset):
    """A sub-operation's instance: its SOP class and instance UIDs (which pynetdicom reads to
    count failures) and the stored file to send."""

    def __init__(self, path: Path, sop_class_uid: str, sop_uid: str, syntax: str) -> None:
        super().__init__()
        self.SOPClassUID = sop_class_uid
        self.SOPInstanceUID = sop_uid
        self.stored_path = path
        self.transfer_syntax = syntax


def send_files_as_stored(assoc: Association) -> None:
    """Make ``assoc.send_c_store`` send a ``StoredFile`` by its path (chunked, undecoded).

    One exception, lossless and cheap: an instance stored in an uncompressed syntax that the
    peer did not accept for its SOP class, while it accepted another uncompressed one, is
    decoded and sent in that one (pynetdicom converts between the native syntaxes)."""
    original = assoc.send_c_store
    if getattr(original, "sends_stored_files", False):
        return
    # (SOP class, transfer syntax) pairs the peer accepted us to send, read once: the accepted
    # contexts do not change after the association is established, and a C-GET requester
    # proposes a hundred or more of them.
    accepted: dict[str, set[str]] = {}

    @functools.wraps(original)
    def send(dataset: Any, *args: Any, **kwargs: Any) -> Dataset:
        if isinstance(dataset, StoredFile):
            if not accepted:
                accepted.update(_accepted_syntaxes(assoc))
            dataset = _as_accepted(accepted.get(str(dataset.SOPClassUID), set()), dataset)
        return original(dataset, *args, **kwargs)

    send.sends_stored_files = True  # type: ignore[attr-defined]
    assoc.send_c_store = send  # type: ignore[method-assign]


def _accepted_syntaxes(assoc: Association) -> dict[str, set[str]]:
    """The transfer syntaxes the peer accepted for each SOP class we may send (SCU role)."""
    syntaxes: dict[str, set[str]] = {}
    for cx in assoc.accepted_contexts:
        if cx.as_scu:
            syntaxes.setdefault(str(cx.abstract_syntax), set()).add(str(cx.transfer_syntax[0]))
    return syntaxes


def _as_accepted(accepted: set[str], stored: StoredFile) -> Path | Dataset:
    if stored.transfer_syntax in accepted or stored.transfer_syntax not in _NATIVE:
        return stored.stored_path  # as stored (or a failed sub-operation: no transcoder)
    if accepted & _NATIVE:
        return dcmread(stored.stored_path)
    return stored.stored_path


def selected_instances(archive: Archive, identifier: Dataset) -> list[StoredInstance]:
    """The instances a retrieve identifier selects, in series and instance order.

    The unique key of the level (Patient ID at PATIENT level) must be given with a value: an
    identifier without it would select the whole archive (InvalidQuery)."""
    query = retrieve_query(identifier)
    key = LEVEL_KEYS[query.level]
    if not any(isinstance(t, Single | AnyOf) and t.tag == key for t in query.terms):
        raise InvalidQuery(f"{query.level.value} level retrieve without a value for its unique key")
    if query.level is Level.PATIENT:
        query = Query(level=Level.STUDY, terms=query.terms, limit=None)
    keys = (LEVEL_KEYS[Level.STUDY], LEVEL_KEYS[Level.SERIES], LEVEL_KEYS[Level.INSTANCE])
    query = Query(level=query.level, terms=query.terms, return_keys=keys, limit=None)
    found: list[StoredInstance] = []
    for match in archive.find(query):
        uids = [_uid(match, key) for key in (_STUDY, _SERIES, _SOP)]
        depth = {Level.STUDY: 1, Level.SERIES: 2, Level.INSTANCE: 3}[query.level]
        try:
            found += archive.retrieve(*uids[:depth])  # type: ignore[arg-type]
        except NotFound:
            continue  # deleted since the find: nothing to send for it
        if len(found) > MAX_SUBOPERATIONS:
            break
    return found


def _uid(match: dict[str, Any], key: str) -> str | None:
    values = match.get(key, {}).get("Value") or [None]
    return values[0] if isinstance(values[0], str) else None


def get_instances(event: Event, archive: Archive) -> Iterator[Response]:
    """The C-GET generator: the count, then each instance over the requesting association."""
    instances = selected_instances(archive, event.identifier)
    send_files_as_stored(event.assoc)
    yield len(instances)
    yield from _send(event, instances)


def move_instances(event: Event, archive: Archive, remotes: RemoteRegistry) -> Iterator[Response]:
    """The C-MOVE generator: the destination (unknown: A801), the count, then each instance
    over an association to the destination proposing the stored (SOP class, syntax) pairs."""
    destination = event.move_destination or ""
    title = (
        destination.decode("ascii", "replace") if isinstance(destination, bytes) else destination
    ).strip()
    node = remotes.get(title)
    if node is None:
        log.warning("C-MOVE to unknown destination %r", title)
        yield None, None
        return
    instances = selected_instances(archive, event.identifier)
    yield node.host, node.port, {"ae_title": node.aet, "contexts": contexts_for(instances)}
    yield len(instances)
    yield from _send(event, instances)


def contexts_for(instances: list[StoredInstance]) -> list[PresentationContext]:
    """One context per stored (SOP class, transfer syntax) pair, so that the destination may
    accept each syntax on its own; pairs beyond ``MAX_CONTEXTS`` fail their sub-operations."""
    return contexts_for_pairs([(i.sop_class_uid, i.transfer_syntax) for i in instances])


def contexts_for_pairs(pairs: list[tuple[str, str]]) -> list[PresentationContext]:
    """One context per (SOP class, transfer syntax), the first ``MAX_CONTEXTS``; an unknown
    syntax ("") is proposed as explicit VR little endian."""
    unique = dict.fromkeys((cls, syntax or ExplicitVRLittleEndian) for cls, syntax in pairs)
    return [build_context(cls, syntax) for cls, syntax in list(unique)[:MAX_CONTEXTS]]


def _send(event: Event, instances: list[StoredInstance]) -> Iterator[Response]:
    for instance in instances:
        if event.is_cancelled:
            yield CANCEL, None
            return
        yield PENDING, _sendable(instance)


def _sendable(instance: StoredInstance) -> Dataset:
    content = instance.file()
    if content.filename is not None:
        return StoredFile(
            Path(content.filename),
            instance.sop_class_uid,
            instance.sop_uid,
            instance.transfer_syntax,
        )
    # A blob store without local files: the instance decoded, encoded again as it was stored.
    return dcmread(io.BytesIO(content.read()))
