"""What the archive exchanges with remote nodes, for every door that drives the SCU (the CLI,
the admin REST API): query identifiers from the doors' key forms, the node and its rights from
the registry, a retrieve (find there, then C-MOVE here) and the files of stored instances to send.

Rights (``dimse.remotes``: store, query, retrieve) say what a node may do *here*; an operation
this archive starts is allowed when the instances it makes flow are ones the node may move that
way itself (see ``needed_right``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword

from openvna.archive.remotes import RemoteRegistry, Right
from openvna.archive.scu import CANCEL, Model, Progress, Remote, Scu, Transfer
from openvna.archive.service import Archive
from openvna.dicom.uid import require_uid
from openvna.errors import BadRequest, Forbidden, NotFound

__all__ = [
    "LEVELS",
    "identifier",
    "needed_right",
    "query_of",
    "remote_of",
    "require_level",
    "retrieve",
    "stored_paths",
]

# Query/Retrieve levels and their unique keys (PS3.4 C.6.1.1, C.6.2.1).
LEVELS = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}
# The right an operation needs of the node. Sending this archive's instances gives the node
# what a C-MOVE or C-GET from here would (retrieve); pulling (C-GET, a retrieve, a C-MOVE to
# this archive) makes the node send C-STOREs here (store), which the SCP would refuse one by one
# without it. C-ECHO, C-FIND and a C-MOVE to another node hand none of this archive's instances
# over and bring none in: no right.
_RIGHTS: dict[str, Right | None] = {
    "echo": None,
    "find": None,
    "get": "store",
    "retrieve": "store",
    "store": "retrieve",
}
_TAG = re.compile(r"^[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}$")


def remote_of(registry: RemoteRegistry, aet: str, right: Right | None) -> Remote:
    """The node ``aet`` of the registry (NotFound) when it has ``right`` (Forbidden)."""
    node = registry.get(aet)
    if node is None:
        raise NotFound(f"no remote node {aet}")
    if right is not None and not getattr(node, right):
        raise Forbidden(f"remote node {aet} has no {right!r} right (dimse.remotes, /api/remotes)")
    return Remote(node.aet, node.host, node.port)


def needed_right(operation: str, destination: str = "", own_aet: str = "") -> Right | None:
    """The right ``operation`` (echo, find, move, get, retrieve, store) needs of the node; a
    move needs one only when ``destination`` is this archive (``own_aet``)."""
    if operation == "move":
        return "store" if destination.strip() == own_aet.strip() else None
    return _RIGHTS[operation]


def require_level(level: str, model: str) -> tuple[str, Model]:
    """The level upper-cased and the model; PATIENT needs the Patient Root model (C.6.2)."""
    shown = level.upper()
    if shown not in LEVELS:
        raise BadRequest(f"level {level!r}: one of {', '.join(LEVELS)}", attribute="level")
    if model not in ("study", "patient"):
        raise BadRequest(f"model {model!r}: 'study' or 'patient' (root)", attribute="model")
    if shown == "PATIENT" and model != "patient":
        raise BadRequest("level PATIENT needs the patient root model", attribute="level")
    return shown, "study" if model == "study" else "patient"


def identifier(level: str, keys: Iterable[str]) -> Dataset:
    """A query identifier from DCMTK-style keys: ``Keyword=value`` or ``gggg,eeee=value``, a key
    without a value asking for the attribute back (universal matching, PS3.4 C.2.2.2.3)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    for key in keys:
        name, _, value = key.partition("=")
        _add(ds, name.strip(), value or None)
    return ds


def query_of(level: str, keys: Mapping[str, Any]) -> Dataset:
    """A query identifier from a JSON object: keywords (or ``ggggeeee`` tags) to a string, a
    list of strings, or null (return key), or DICOM JSON elements (PS3.18 F.2) as QIDO-RS
    answers them; BadRequest names the key that is neither."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    for name, value in keys.items():
        if isinstance(value, dict):
            _add_json(ds, name, value)
        elif value is None or isinstance(value, str):
            _add(ds, name, value or None)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            _add(ds, name, "\\".join(value) or None)
        else:
            raise BadRequest(f"{name}: a string, a list of strings, null or a DICOM JSON element")
    return ds


def _add(ds: Dataset, name: str, value: str | None) -> None:
    tag = _tag(name)
    ds.add_new(tag, dictionary_VR(tag), value)


def _add_json(ds: Dataset, name: str, element: dict[str, Any]) -> None:
    tag = _tag(name)
    try:
        parsed = Dataset.from_json({f"{tag:08X}": element})
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadRequest(f"{name}: not a DICOM JSON element ({exc})", attribute=name) from None
    ds.update(parsed)


def _tag(name: str) -> int:
    if _TAG.fullmatch(name):
        tag = int(name.replace(",", ""), 16)
        try:
            dictionary_VR(tag)
        except KeyError:
            raise BadRequest(f"{name}: not a tag of the DICOM dictionary", attribute=name) from None
        return tag
    found = tag_for_keyword(name)
    if found is None:
        raise BadRequest(f"{name}: not a DICOM keyword (or gggg,eeee)", attribute=name)
    return int(found)


def retrieve(
    scu: Scu,
    remote: Remote,
    query: Dataset,
    destination: str,
    model: Model,
    progress: Progress | None = None,
) -> tuple[int, Transfer]:
    """Query ``remote``, then C-MOVE each match to ``destination`` (this archive's AE title
    for "retrieve"), one C-MOVE per match by its unique keys (hierarchical retrieve, PS3.4
    C.4.2.2.1): the number of matches and what the moves came to. A ``Cancelled`` from
    ``progress`` stops the current C-MOVE (C-CANCEL) and the ones after it."""
    level = str(query.QueryRetrieveLevel)
    unique = LEVELS[level]
    if unique not in query:
        query.add_new(unique, dictionary_VR(unique), None)
    matches = list(scu.find(remote, query, model))
    result = Transfer()
    for match in matches:
        before = result.plus(Transfer())

        def step(current: Transfer, total: int, before: Transfer = before) -> None:
            if progress:
                progress(before.plus(current), before.done + total)

        moved = scu.move(remote, _move_keys(match, level, model), destination, model, step)
        result = before.plus(moved)
        if moved.status == CANCEL:  # the caller stopped the retrieve
            break
    return len(matches), result


def _move_keys(match: Dataset, level: str, model: Model) -> Dataset:
    """The unique keys of ``match`` down to ``level``, what a hierarchical C-MOVE names
    (PS3.4 C.4.2.2.1); Patient ID only in the Patient Root model, where it is a level's."""
    moved = Dataset()
    moved.QueryRetrieveLevel = level
    for name, unique in LEVELS.items():
        value = match.get(unique)
        if value and (name != "PATIENT" or model == "patient"):
            moved.add_new(unique, dictionary_VR(unique), value)
        if name == level:
            break
    return moved


def stored_paths(archive: Archive, resources: Iterable[Mapping[str, str]]) -> list[Path]:
    """The files of the stored studies, series or instances named by ``resources`` (each with
    a StudyInstanceUID, and a SeriesInstanceUID and SOPInstanceUID to narrow it), in retrieve
    order, each once; NotFound names what is not stored."""
    paths: dict[Path, None] = {}
    for resource in resources:
        study = require_uid(resource.get("StudyInstanceUID") or "", "StudyInstanceUID")
        series = _optional_uid(resource, "SeriesInstanceUID")
        sop = _optional_uid(resource, "SOPInstanceUID")
        if sop and not series:
            raise BadRequest("SOPInstanceUID needs its SeriesInstanceUID", attribute="series")
        for instance in archive.retrieve(study, series, sop):
            name = instance.file().filename
            if name is None:
                raise NotFound(f"instance {instance.sop_uid} has no local file to send")
            paths[Path(name)] = None
    return list(paths)


def _optional_uid(resource: Mapping[str, str], attribute: str) -> str | None:
    value = resource.get(attribute)
    return None if value is None else require_uid(value, attribute)
