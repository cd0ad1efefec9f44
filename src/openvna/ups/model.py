"""The Unified Procedure Step IOD as the workitem service checks it (PS3.4 Annex CC).

Well-known UIDs, the states of CC.1.1, the attribute requirements of Table CC.2.5-3 for
N-CREATE (``creation_problems``) and the Final State requirements checked before a workitem
may become COMPLETED or CANCELED (``final_state_problems``). Datasets are in the DICOM JSON
model (PS3.18 Annex F) throughout, as everywhere above ``openvna.dicom``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydicom.datadict import dictionary_description

from openvna.dicom.json import DicomJson
from openvna.dicom.tags import vr_of

__all__ = [
    "FILTERED_GLOBAL",
    "GLOBAL",
    "UPS_EVENT",
    "UPS_PUSH",
    "State",
    "Tag",
    "creation_problems",
    "empty",
    "enumeration_problems",
    "final_state_problems",
    "first_value",
    "now_datetime",
    "value",
]

# PS3.4 CC.3.1 / PS3.6 Annex A: the SOP classes and the well-known instances of global
# subscription.
UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
GLOBAL = "1.2.840.10008.5.1.4.34.5"
FILTERED_GLOBAL = "1.2.840.10008.5.1.4.34.5.1"


class State(StrEnum):
    """Procedure Step State (0074,1000), PS3.4 Table CC.1.1-1."""

    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"

    @property
    def final(self) -> bool:
        return self in (State.COMPLETED, State.CANCELED)


class Tag:
    """The attributes the service reads or writes, as JSON model keys."""

    SOP_CLASS_UID = "00080016"
    SOP_INSTANCE_UID = "00080018"
    TRANSACTION_UID = "00081195"
    PATIENT_NAME = "00100010"
    PATIENT_ID = "00100020"
    STUDY_INSTANCE_UID = "0020000D"
    COMMENTS = "00400400"
    START_DATETIME = "00404005"
    MODIFICATION_DATETIME = "00404010"
    SCHEDULED_WORKITEM_CODES = "00404018"
    INPUT_INFORMATION = "00404021"
    STATION_NAMES = "00404025"
    STATION_CLASSES = "00404026"
    STATION_LOCATIONS = "00404027"
    HUMAN_PERFORMERS = "00404034"
    EXPECTED_COMPLETION = "00404011"
    INPUT_READINESS = "00404041"
    PERFORMED_STATION_NAMES = "00404028"
    PERFORMED_WORKITEM_CODES = "00404019"
    OUTPUT_INFORMATION = "00404033"
    PERFORMED_START = "00404050"
    PERFORMED_END = "00404051"
    CANCELLATION_DATETIME = "00404052"
    STATE = "00741000"
    PROGRESS_INFORMATION = "00741002"
    PROGRESS = "00741004"
    PROGRESS_DESCRIPTION = "00741006"
    CONTACT_URI = "0074100A"
    CONTACT_NAME = "0074100C"
    DISCONTINUATION_REASONS = "0074100E"
    PRIORITY = "00741200"
    WORKLIST_LABEL = "00741202"
    LABEL = "00741204"
    PERFORMED_PROCEDURE = "00741216"
    REPLACED_PROCEDURE = "00741224"
    REQUESTING_AE = "00741236"
    REASON_FOR_CANCELLATION = "00741238"
    SCP_STATUS = "00741242"
    SUBSCRIPTION_LIST_STATUS = "00741244"
    UNIFIED_LIST_STATUS = "00741246"
    REFERENCED_REQUEST = "0040A370"
    # Command-group attributes of an N-EVENT-REPORT (PS3.7 Table 10.3-1), as PS3.18 §6.9.10
    # sends them in the event message.
    AFFECTED_SOP_CLASS_UID = "00000002"
    AFFECTED_SOP_INSTANCE_UID = "00001000"
    EVENT_TYPE_ID = "00001002"


PRIORITIES = frozenset({"HIGH", "MEDIUM", "LOW"})
READINESS = frozenset({"READY", "UNAVAILABLE", "INCOMPLETE"})

# Table CC.2.5-3, N-CREATE column: Type 1 (a value required) and Type 2 (present, may be empty)
# at the top level. Procedure Step State is Type 1 too but checked apart: it must be SCHEDULED.
_CREATE_TYPE1 = (Tag.PRIORITY, Tag.LABEL, Tag.START_DATETIME, Tag.INPUT_READINESS)
CREATE_TYPE2 = (
    Tag.WORKLIST_LABEL,
    "00741210",  # Scheduled Processing Parameters Sequence
    Tag.STATION_NAMES,
    Tag.STATION_CLASSES,
    Tag.STATION_LOCATIONS,
    Tag.SCHEDULED_WORKITEM_CODES,
    Tag.COMMENTS,
    Tag.INPUT_INFORMATION,
    Tag.PATIENT_NAME,
    "00100030",  # Patient's Birth Date
    "00100040",  # Patient's Sex
    "00101002",  # Other Patient IDs Sequence
    "00380010",  # Admission ID
    "00380014",  # Issuer of Admission ID Sequence
    "00081080",  # Admitting Diagnoses Description
    "00081084",  # Admitting Diagnoses Code Sequence
    Tag.REFERENCED_REQUEST,
)
# Type 2 attributes the SCU must send empty: the SCP owns them (Table CC.2.5-3 notes).
_CREATE_EMPTY = (Tag.TRANSACTION_UID, Tag.PROGRESS_INFORMATION, Tag.PERFORMED_PROCEDURE)


def value(dataset: DicomJson, tag: str) -> list[Any]:
    """The Value list of ``tag`` (empty when the attribute is absent or empty)."""
    attribute = dataset.get(tag)
    if not isinstance(attribute, dict):
        return []
    found = attribute.get("Value")
    return found if isinstance(found, list) else []


def first_value(dataset: DicomJson, tag: str) -> Any:
    """The first value of ``tag``, or None."""
    values = value(dataset, tag)
    return values[0] if values else None


def empty(tag: str) -> dict[str, Any]:
    """An attribute with no value, as the JSON model writes it (PS3.18 F.2.5)."""
    return {"vr": vr_of(int(tag, 16))}


def now_datetime() -> str:
    """The current moment as a DT value (local time with its UTC offset, PS3.5 Table 6.2-1)."""
    return dt.datetime.now().astimezone().strftime("%Y%m%d%H%M%S%z")


def creation_problems(dataset: DicomJson) -> list[str]:
    """Why ``dataset`` cannot become a workitem (Table CC.2.5-3, N-CREATE SCU requirements):
    missing Type 1 values, values outside their enumerations, an initial state other than
    SCHEDULED, SCP-owned attributes sent with a value. Empty when it can."""
    problems = [
        f"{_name(tag)} is missing or empty" for tag in _CREATE_TYPE1 if not value(dataset, tag)
    ]
    state = first_value(dataset, Tag.STATE)
    if state != State.SCHEDULED:
        problems.append(f"Procedure Step State (0074,1000) must be SCHEDULED, not {state!r}")
    problems += enumeration_problems(dataset)
    problems += [
        f"{_name(tag)} must be empty on creation" for tag in _CREATE_EMPTY if value(dataset, tag)
    ]
    return problems


def enumeration_problems(dataset: DicomJson) -> list[str]:
    """Priority and Input Readiness State outside their enumerated values (Table CC.2.5-3),
    as sent on N-CREATE or N-SET; absent ones are not this check's business."""
    problems = []
    priority = first_value(dataset, Tag.PRIORITY)
    if priority is not None and priority not in PRIORITIES:
        problems.append(
            f"Scheduled Procedure Step Priority {priority!r} is not HIGH, MEDIUM or LOW"
        )
    readiness = first_value(dataset, Tag.INPUT_READINESS)
    if readiness is not None and readiness not in READINESS:
        problems.append(
            f"Input Readiness State {readiness!r} is not READY, UNAVAILABLE or INCOMPLETE"
        )
    return problems


def final_state_problems(dataset: DicomJson, target: State) -> list[str]:
    """What the workitem lacks to become ``target`` (Table CC.2.5-3, Final State column).

    R (both final states): the Type 1 attributes of creation still valued. P (COMPLETED): an
    item of UPS Performed Procedure Sequence (0074,1216) with Performed Procedure Step Start
    and End DateTime valued, and Performed Station Name Code, Performed Workitem Code and Output
    Information Sequences present (empty when the step used no station or made no output). X
    (CANCELED): an item of Procedure Step Progress Information Sequence (0074,1002) with
    Procedure Step Cancellation DateTime; the service records that moment itself when the
    performer has not (``Workitems.change_state``), so nothing is asked of the client.
    """
    problems = [f"{_name(tag)} has no value" for tag in _CREATE_TYPE1 if not value(dataset, tag)]
    if target is State.COMPLETED:
        items = value(dataset, Tag.PERFORMED_PROCEDURE)
        item = items[0] if items and isinstance(items[0], dict) else None
        if item is None:
            problems.append(f"{_name(Tag.PERFORMED_PROCEDURE)} has no item")
        else:
            problems += [
                f"{_name(Tag.PERFORMED_PROCEDURE)} > {_name(tag)} has no value"
                for tag in (Tag.PERFORMED_START, Tag.PERFORMED_END)
                if not value(item, tag)
            ]
            problems += [
                f"{_name(Tag.PERFORMED_PROCEDURE)} > {_name(tag)} is missing"
                for tag in (
                    Tag.PERFORMED_STATION_NAMES,
                    Tag.PERFORMED_WORKITEM_CODES,
                    Tag.OUTPUT_INFORMATION,
                )
                if tag not in item
            ]
    return problems


def _name(tag: str) -> str:
    return f"{dictionary_description(int(tag, 16))} ({tag[:4]},{tag[4:]})"
