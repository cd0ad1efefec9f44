"""Reading DICOM JSON (PS3.18 Annex F) values for the FHIR mapping, and the FHIR datatypes they
become (R4 datatypes.html): date, dateTime, HumanName, Coding."""

from __future__ import annotations

import re
from typing import Any

from openvna.dicom.json import DicomJson

__all__ = [
    "DCM",
    "SCHEMES",
    "code_of",
    "date",
    "date_time",
    "first",
    "human_name",
    "integer",
    "items",
    "text",
    "values",
]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


def values(ds: DicomJson, tag: str) -> list[Any]:
    element = ds.get(tag)
    if not isinstance(element, dict):
        return []
    found = element.get("Value")
    return found if isinstance(found, list) else []


def first(ds: DicomJson, tag: str) -> Any:
    found = values(ds, tag)
    return found[0] if found else None


def text(ds: DicomJson, tag: str) -> str:
    """The first value as stripped text ('' when absent): trailing spaces are padding."""
    value = first(ds, tag)
    return value.strip() if isinstance(value, str) else ""


def integer(ds: DicomJson, tag: str) -> int | None:
    """An IS/US value as a non-negative integer (FHIR unsignedInt); None otherwise."""
    value = first(ds, tag)
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("+").isdigit():
            return None
        value = int(value)
    if isinstance(value, int | float) and value >= 0 and int(value) == value:
        return int(value)
    return None


def items(ds: DicomJson, tag: str) -> list[DicomJson]:
    return [item for item in values(ds, tag) if isinstance(item, dict)]


def date(value: str) -> str | None:
    """DA ``YYYYMMDD`` as FHIR ``YYYY-MM-DD``; None for anything partial or invalid."""
    match = _DATE.match(value.strip())
    if not match:
        return None
    year, month, day = match.groups()
    if not ("01" <= month <= "12" and "01" <= day <= "31") or year == "0000":
        return None
    return f"{year}-{month}-{day}"


def date_time(day: str, time: str, offset: str) -> str | None:
    """A DA, TM and TimezoneOffsetFromUTC (0008,0201) as a FHIR dateTime.

    FHIR requires a zone whenever a time is given (datatypes.html#dateTime), and DICOM times are
    local times whose zone is known only from the offset: without one the date alone is honest.
    """
    when = date(day)
    if when is None:
        return None
    zone = _OFFSET.match(offset.strip())
    clock = _TIME.match(time.strip())
    if zone is None or clock is None:
        return when
    sign, hours, minutes = zone.groups()
    hh, mm, ss, fraction = clock.groups()
    if hh > "23" or (mm or "00") > "59" or (ss or "00") > "59":
        return when
    seconds = f"{ss or '00'}{fraction or ''}"
    return f"{when}T{hh}:{mm or '00'}:{seconds}{sign}{hours}:{minutes}"


def human_name(pn: Any) -> dict[str, Any] | None:
    """A PN value (its Alphabetic group, ``Family^Given^Middle^Prefix^Suffix``, PS3.5 6.2.1.1)
    as an R4 HumanName: given and middle names in ``given``."""
    alphabetic = pn.get("Alphabetic", "") if isinstance(pn, dict) else pn
    if not isinstance(alphabetic, str) or not alphabetic.strip():
        return None
    parts = [p.strip() for p in alphabetic.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    name: dict[str, Any] = {"use": "usual"}
    words = [w for w in (prefix, given, middle, family, suffix) if w]
    name["text"] = " ".join(words)
    if family:
        name["family"] = family
    forenames = [w for w in (given, middle) if w]
    if forenames:
        name["given"] = forenames
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name


def code_of(item: DicomJson) -> dict[str, Any] | None:
    """A code sequence item (PS3.3 Table 8.8-1) as a Coding; the system is given for the coding
    schemes FHIR names by URI (DCM, SCT/SRT, LN) and left out for the others (a Coding's system
    is optional, and a made-up URI would mislead)."""
    value = text(item, "00080100") or text(item, "00080119") or text(item, "00080120")
    if not value:
        return None
    scheme = text(item, "00080102")
    coding: dict[str, Any] = {}
    system = SCHEMES.get(scheme)
    if system is not None:
        coding["system"] = system
    coding["code"] = value
    meaning = text(item, "00080104")
    if meaning:
        coding["display"] = meaning
    return coding


# Coding scheme designators (PS3.16 Table 8-1) that FHIR names by a system URI.
SCHEMES = {
    "DCM": DCM,
    "SCT": "http://snomed.info/sct",
    "SRT": "http://snomed.info/sct",
    "LN": "http://loinc.org",
}
