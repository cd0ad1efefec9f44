"""Column values and level JSON taken from an instance's DICOM JSON (PS3.18 Annex F).

Reads the JSON model only: no pydicom on this path. Dates and times are stored in the normal
forms of ``openvna.dicom.matching`` so SQL string comparison matches by meaning (PS3.4
C.2.2.2.5); values that do not parse are stored as sent and still match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from openvna.dicom.matching import normalize_date, normalize_time
from openvna.errors import InvalidDicom
from openvna.index.levels import PATIENT_TAGS, SERIES_TAGS, STUDY_TAGS, tag_hex
from openvna.index.records import InstanceRecord

__all__ = ["Rows", "body_part", "dumps", "extract", "pn_upper", "reasons"]

_PATIENT_KEYS = frozenset(tag_hex(t) for t in PATIENT_TAGS)
_STUDY_KEYS = frozenset(tag_hex(t) for t in STUDY_TAGS)
_SERIES_KEYS = frozenset(tag_hex(t) for t in SERIES_TAGS)
_MAX_TEXT = 256


@dataclass(frozen=True)
class Rows:
    """The UIDs and the column values of the four rows one instance touches."""

    study_uid: str
    series_uid: str
    sop_uid: str
    patient: dict[str, Any]
    study: dict[str, Any]
    series: dict[str, Any]
    instance: dict[str, Any]
    reasons: tuple[tuple[str, str], ...]  # the study's (code, scheme) rows in study_reasons


def dumps(obj: dict[str, Any]) -> bytes:
    """Serialise DICOM JSON once, keys sorted (internals.md: keys are sorted)."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def extract(record: InstanceRecord) -> Rows:
    """Split one instance into its patient, study, series and instance rows."""
    md = record.metadata
    study_uid = _uid(md, "0020000D", "StudyInstanceUID")
    series_uid = _uid(md, "0020000E", "SeriesInstanceUID")
    sop_uid = _uid(md, "00080018", "SOPInstanceUID")
    patient_name = pn_upper(_first(md, "00100010"))
    patient_id = _text(md, "00100020")
    patient = {
        "patient_id": patient_id,
        "issuer": _text(md, "00100021"),
        "patient_name_upper": patient_name,
        "json": dumps({k: v for k, v in md.items() if k in _PATIENT_KEYS}),
    }
    study = {
        "study_uid": study_uid,
        "patient_name_upper": patient_name,
        "patient_id": patient_id,
        "patient_birth_date": _date(md, "00100030"),
        "patient_sex": _text(md, "00100040"),
        "study_date": _date(md, "00080020"),
        "study_time": _time(md, "00080030"),
        "accession_number": _text(md, "00080050"),
        "study_id": _text(md, "00200010"),
        "referring_physician_upper": pn_upper(_first(md, "00080090")),
        "study_description": _text(md, "00081030"),
        "json": dumps({k: v for k, v in md.items() if k in _STUDY_KEYS}),
    }
    request = _first_item(md, "00400275")
    series = {
        "series_uid": series_uid,
        "modality": _text(md, "00080060"),
        "series_number": _int(md, "00200011"),
        "series_description": _text(md, "0008103E"),
        "pps_start_date": _date(md, "00400244"),
        "pps_start_time": _time(md, "00400245"),
        "requested_sps_id": _text(request, "00400009"),
        "requested_procedure_id": _text(request, "00401001"),
        "body_part": body_part(md),
        "json": dumps({k: v for k, v in md.items() if k in _SERIES_KEYS}),
    }
    instance = _instance(record, sop_uid)
    return Rows(study_uid, series_uid, sop_uid, patient, study, series, instance, reasons(md))


def body_part(md: dict[str, Any]) -> str:
    """Body Part Examined (0018,0015): the series' ``body_part`` column."""
    return _text(md, "00180015")


def reasons(md: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(code, coding scheme designator) of each item of Reason For Performed Procedure Code
    Sequence (0040,1012); the code is Code Value, Long Code Value or URN Code Value (PS3.3
    Table 8.8-1a), whichever the item has."""
    found = set()
    for item in _values(md, "00401012"):
        if isinstance(item, dict):
            code = _text(item, "00080100") or _text(item, "00080119") or _text(item, "00080120")
            if code:
                found.add((code, _text(item, "00080102")))
    return tuple(sorted(found))


def _instance(record: InstanceRecord, sop_uid: str) -> dict[str, Any]:
    md = record.metadata
    pixel = record.pixel_data
    return {
        "sop_uid": sop_uid,
        "sop_class_uid": _text(md, "00080016"),
        "instance_number": _int(md, "00200013"),
        "rows": _int(md, "00280010"),
        "columns": _int(md, "00280011"),
        "bits_allocated": _int(md, "00280100"),
        "number_of_frames": _int(md, "00280008"),
        "transfer_syntax": record.transfer_syntax,
        "blob_key": record.blob_key,
        "size": record.size,
        "checksum": record.checksum,
        "frames": orjson.dumps(record.frames).decode(),
        "pixel_vr": getattr(pixel, "vr", "OB") if pixel else None,
        "pixel_offset": pixel.offset if pixel else None,
        "pixel_length": pixel.length if pixel else None,
        "pixel_encapsulated": pixel.encapsulated if pixel else None,
        "metadata": dumps(md),
    }


def pn_upper(value: Any) -> str:
    """The Alphabetic group of a PN value, upper-cased, without trailing empty components."""
    if isinstance(value, dict):
        value = value.get("Alphabetic", "")
    return _column_text(str(value or "").upper().rstrip("^ "))


def _column_text(value: str) -> str:
    """Text fit for an indexed column: no NUL (PostgreSQL refuses it), at most _MAX_TEXT
    characters (a b-tree entry must fit in a page; no matchable VR allows more than 64)."""
    return value.replace("\x00", "")[:_MAX_TEXT]


def _values(md: dict[str, Any], key: str) -> list[Any]:
    attribute = md.get(key)
    values = attribute.get("Value") if isinstance(attribute, dict) else None
    return values if isinstance(values, list) else []


def _first(md: dict[str, Any], key: str) -> Any:
    values = _values(md, key)
    return values[0] if values else None


def _first_item(md: dict[str, Any], key: str) -> dict[str, Any]:
    item = _first(md, key)
    return item if isinstance(item, dict) else {}


def _uid(md: dict[str, Any], key: str, keyword: str) -> str:
    value = _first(md, key)
    if not isinstance(value, str) or not value:
        raise InvalidDicom(f"{keyword} ({key}) is missing", attribute=keyword)
    return value


def _text(md: dict[str, Any], key: str) -> str:
    value = _first(md, key)
    return "" if value is None else _column_text(str(value).strip())


def _int(md: dict[str, Any], key: str) -> int | None:
    """An IS/US value as a 32-bit integer column; anything else is unknown (NULL)."""
    value = _first(md, key)
    try:
        number = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and -(2**31) <= number < 2**31 else None


def _date(md: dict[str, Any], key: str) -> str:
    value = _text(md, key)
    try:
        return normalize_date(value) if value else ""
    except ValueError:
        return value


def _time(md: dict[str, Any], key: str) -> str:
    value = _text(md, key)
    try:
        return normalize_time(value) if value else ""
    except ValueError:
        return value
