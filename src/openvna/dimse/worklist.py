"""Modality Worklist C-FIND SCP (PS3.4 Annex K) over the workitem service: the identifier's keys
become the same match terms as a Query/Retrieve C-FIND (``identifier.find_query``), the
SCHEDULED workitems are matched as worklist items (``ups.worklist``), and each match answers
the keys that were asked (K.6.1.2: return keys, sequence items shaped by the identifier's item).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from pydicom import Dataset

from openvna.dicom.json import DicomJson, dataset_to_json, json_to_dataset
from openvna.dicom.matching import MatchTerm
from openvna.dimse.find import CANCEL, PENDING, UNABLE_TO_PROCESS, FindResponse
from openvna.dimse.identifier import find_query
from openvna.dimse.store import status_of
from openvna.errors import ArchiveError
from openvna.ups import Workitems
from openvna.ups.worklist import MODALITY_WORKLIST_FIND

if TYPE_CHECKING:
    from pynetdicom.events import Event

__all__ = [
    "MODALITY_WORKLIST_FIND",
    "identifier_terms",
    "is_worklist_find",
    "shaped",
    "worklist_matches",
]

log = logging.getLogger("openvna.dimse")

IDENTIFIER_DOES_NOT_MATCH = 0xA900
_ANSWERED_HERE = ("00080005", "00080052")


def is_worklist_find(event: Event) -> bool:
    return str(event.request.AffectedSOPClassUID) == MODALITY_WORKLIST_FIND


def worklist_matches(event: Event, workitems: Workitems) -> Iterator[FindResponse]:
    """The responses to one worklist C-FIND: one pending response a scheduled step, then
    success; a C-CANCEL stops them (PS3.4 K.4.1.3.2)."""
    try:
        asked = dataset_to_json(event.identifier)
        terms = identifier_terms(event.identifier)
    except ArchiveError as exc:
        yield status_of(IDENTIFIER_DOES_NOT_MATCH, exc.message), None
        return
    except Exception as exc:  # an identifier pydicom cannot decode
        yield status_of(IDENTIFIER_DOES_NOT_MATCH, f"cannot read the identifier: {exc}"), None
        return
    try:
        found = workitems.worklist(terms)
    except ArchiveError as exc:
        log.warning("worklist C-FIND failed: %s", exc.message)
        yield status_of(UNABLE_TO_PROCESS, exc.message), None
        return
    for item in found:
        if event.is_cancelled:
            yield CANCEL, None
            return
        yield PENDING, _response(item, asked)
    yield 0x0000, None


def identifier_terms(identifier: Dataset) -> tuple[MatchTerm, ...]:
    """The match terms of a C-FIND identifier with no Query/Retrieve Level (worklist, UPS),
    parsed as a Q/R identifier's are (``identifier.find_query``, whose level is then moot)."""
    probe = Dataset()
    probe.update(identifier)
    probe.QueryRetrieveLevel = "STUDY"
    return find_query(probe, combined_datetime=False).terms


def shaped(item: DicomJson, asked: DicomJson) -> DicomJson:
    """The keys of ``asked`` with the values of ``item`` (empty where it has none); a sequence
    key with an item is answered item by item with that item's keys."""
    answer: DicomJson = {}
    for tag, key in asked.items():
        if tag in _ANSWERED_HERE:
            continue
        found: Any = item.get(tag, {"vr": key.get("vr", "UN")})
        template = (key.get("Value") or [None])[0] if key.get("vr") == "SQ" else None
        if isinstance(template, dict) and template and found.get("Value"):
            found = {
                "vr": "SQ",
                "Value": [shaped(sub, template) for sub in found["Value"] if isinstance(sub, dict)],
            }
        answer[tag] = found
    return answer


def _response(item: DicomJson, asked: DicomJson) -> Dataset:
    answer = shaped(item, asked)
    ds = json_to_dataset(answer, None)
    if not orjson.dumps(answer).isascii():
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds
