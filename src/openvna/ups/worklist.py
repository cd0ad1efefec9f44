"""Scheduled workitems as Modality Worklist items (PS3.4 Annex K), so a modality pulls its
worklist with C-FIND from the same workitem store that UPS-RS and UPS over DIMSE change. The
standard gives no normative UPS to MWL mapping; this is openvna's, attribute by attribute.

Each SCHEDULED workitem is one worklist item with one Scheduled Procedure Step (0040,0100):

- start date and time ← Scheduled Procedure Step Start DateTime (0040,4005), split;
- description ← Procedure Step Label (0074,1204); ID ← the last 16 characters of the workitem's
  UID (SH holds 16; it names the step uniquely enough for a worklist);
- Scheduled Station AE Title and Name ← the first Scheduled Station Name Code Sequence item's
  code value and meaning (sites code their stations by AE title); Modality ← the first
  Scheduled Station Class Code Sequence item's code value (CT, MR...);
- Scheduled Protocol Code Sequence ← Scheduled Workitem Code Sequence (0040,4018);
- Scheduled Performing Physician's Name ← the first Scheduled Human Performer's name;
- status SCHEDULED; comments from Comments on the Scheduled Procedure Step (0040,0400).

Requested procedure attributes come from the first Referenced Request Sequence (0040,A370)
item (Study Instance UID, Accession Number, Requested Procedure ID and Description), patient
attributes from the workitem itself.
"""

from __future__ import annotations

from typing import Any

from openvna.dicom.json import DicomJson
from openvna.ups.model import Tag, first_value, value

__all__ = ["MODALITY_WORKLIST_FIND", "worklist_item"]

MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
_SPS = "00400100"
_PATIENT = ("00100010", "00100020", "00100021", "00100030", "00100040", "00101002")
_REQUEST = {
    "0020000D": "0020000D",  # Study Instance UID
    "00080050": "00080050",  # Accession Number
    "00401001": "00401001",  # Requested Procedure ID
    "00321060": "00321060",  # Requested Procedure Description
}


def _text(vr: str, text: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": [text]} if text not in (None, "") else {"vr": vr}


def _code(dataset: DicomJson, tag: str) -> tuple[str | None, str | None]:
    items = value(dataset, tag)
    item = items[0] if items and isinstance(items[0], dict) else {}
    return first_value(item, "00080100"), first_value(item, "00080104")


def worklist_item(uid: str, workitem: DicomJson) -> DicomJson:
    """The Modality Worklist item of one workitem (see the module's docstring)."""
    start = str(first_value(workitem, Tag.START_DATETIME) or "")
    station_ae, station_name = _code(workitem, Tag.STATION_NAMES)
    modality, _ = _code(workitem, Tag.STATION_CLASSES)
    performers = value(workitem, Tag.HUMAN_PERFORMERS)
    performer = performers[0] if performers and isinstance(performers[0], dict) else {}
    step: DicomJson = {
        "00400001": _text("AE", station_ae),
        "00400002": _text("DA", start[:8]),
        "00400003": _text("TM", start[8:14]),
        "00080060": _text("CS", modality),
        "00400006": performer.get("00404037", {"vr": "PN"}),
        "00400007": _text("LO", first_value(workitem, Tag.LABEL)),
        "00400008": workitem.get(Tag.SCHEDULED_WORKITEM_CODES, {"vr": "SQ"}),
        "00400009": _text("SH", uid[-16:]),
        "00400010": _text("SH", station_name),
        "00400020": _text("CS", "SCHEDULED"),
        "00400400": workitem.get(Tag.COMMENTS, {"vr": "LT"}),
    }
    item: DicomJson = {_SPS: {"vr": "SQ", "Value": [step]}}
    item |= {tag: workitem[tag] for tag in _PATIENT if tag in workitem}
    requests = value(workitem, Tag.REFERENCED_REQUEST)
    request = requests[0] if requests and isinstance(requests[0], dict) else {}
    for target, source in _REQUEST.items():
        if source in request:
            item[target] = request[source]
    if "0020000D" not in item and Tag.STUDY_INSTANCE_UID in workitem:
        item["0020000D"] = workitem[Tag.STUDY_INSTANCE_UID]
    return item
