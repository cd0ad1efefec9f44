"""FHIR search (R4 search.html) for Patient and ImagingStudy, parsed into the archive's ``Query``.

A request's parameters split into result controls (``_count``, ``_sort``, ``_include``, ...) and
criteria. Criteria on the study or patient become match terms of one STUDY- or PATIENT-level
``Query``; criteria on series or instances (``series``, ``modality`` is study-level through
ModalitiesInStudy, ``dicom-class``, ``instance``, ``bodysite``) are series- or instance-level
queries the studies must hold a match of (``Query.holding``: a subquery of the same statement).
Repeated parameters are ANDed, comma-separated values ORed (search.html#combining).

Unknown parameters and modifiers follow ``Prefer: handling`` (search.html#errors): lenient (the
default) leaves them out of the search and of the ``self`` link; strict refuses the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openvna.archive import Archive
from openvna.errors import BadRequest
from openvna.fhir.criteria import Criteria
from openvna.fhir.params import split_values
from openvna.fhir.patient_params import patient_criteria
from openvna.fhir.study_params import study_criteria

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "SEARCH_PARAMETERS",
    "WRITTEN_CONTROLS",
    "Controls",
    "Criteria",
    "ParsedSearch",
    "paging",
    "parse_search",
    "read_controls",
]

DEFAULT_COUNT = 50
MAX_COUNT = 1000
_INT_LIMIT = 2**31 - 1

# name -> (type, documentation): what the CapabilityStatement lists, exactly what is parsed.
SEARCH_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "Patient": {
        "_id": ("token", "Logical id (Patient ID, or p. + Base64 of issuer and ID)"),
        "identifier": ("token", "Patient ID (0010,0020), system from its issuer"),
        "name": ("string", "Any part of Patient's Name (0010,0010), starts with"),
        "family": ("string", "Family name, starts with"),
        "given": ("string", "Given or middle name, starts with"),
        "birthdate": ("date", "Patient's Birth Date (0010,0030)"),
        "gender": ("token", "Patient's Sex (0010,0040): male, female, other, unknown"),
    },
    "ImagingStudy": {
        "_id": ("token", "Logical id (accession number or Study Instance UID)"),
        "patient": ("reference", "The study's patient"),
        "subject": ("reference", "The study's subject (a Patient)"),
        "identifier": ("token", "Study Instance UID (urn:dicom:uid|urn:oid:…) or accession"),
        "started": ("date", "Study Date and Time (0008,0020/0030)"),
        "modality": ("token", "Modalities in Study (0008,0061), DCM codes"),
        "series": ("token", "Series Instance UID (0020,000E)"),
        "instance": ("token", "SOP Instance UID (0008,0018)"),
        "dicom-class": ("token", "SOP Class UID (0008,0016) of an instance"),
        "bodysite": ("token", "Body Part Examined (0018,0015) of a series"),
        "status": ("token", "Always available"),
        "endpoint": ("reference", "Endpoint of the study"),
        "basedon": ("reference", "ServiceRequest whose identifier is the accession number"),
        "reason": ("token", "Reason for Performed Procedure Code Sequence (0040,1012)"),
        "_lastUpdated": ("date", "When the study last changed in the archive (meta.lastUpdated)"),
    },
}
INCLUDES = {
    "ImagingStudy": ("ImagingStudy:subject", "ImagingStudy:patient", "ImagingStudy:endpoint")
}
REVINCLUDES = {"Patient": ("ImagingStudy:patient", "ImagingStudy:subject")}
_CONTROLS = frozenset(
    {"_count", "_offset", "_sort", "_summary", "_elements", "_include", "_revinclude", "_total"}
)
# What the DiagnosticReport and ServiceRequest search takes besides its criteria.
WRITTEN_CONTROLS = ("_count", "_offset", "_summary", "_elements")
# Read by the web layer (search.html#format, #pretty); they stay in the self link.
_FORMAT = frozenset({"_format", "_pretty"})
_SUMMARIES = frozenset({"true", "false", "count", "data", "text"})


@dataclass(frozen=True)
class Controls:
    """What shapes the result rather than selects it."""

    count: int = DEFAULT_COUNT
    offset: int = 0
    ascending: bool | None = None
    summary: str | None = None
    elements: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    revinclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedSearch:
    resource_type: str
    controls: Controls
    criteria: Criteria
    used: tuple[tuple[str, str], ...]
    # The criteria as given, (parameter, modifier, value): what written-back Patients are
    # checked against (``patient_match``).
    given: tuple[tuple[str, str | None, str], ...] = ()


def parse_search(
    archive: Archive, resource_type: str, params: Sequence[tuple[str, str]], *, strict: bool
) -> ParsedSearch:
    """Parse a search of ``resource_type`` (Patient or ImagingStudy); BadRequest for a
    malformed value, or for an unknown parameter when ``strict``."""
    supported = SEARCH_PARAMETERS[resource_type]
    used: list[tuple[str, str]] = []
    criteria: list[tuple[str, str | None, str]] = []
    control_values: dict[str, list[str]] = {}
    for name, value in params:
        base, _, modifier = name.partition(":")
        if name in _FORMAT:
            used.append((name, value))
        elif name in _CONTROLS:
            control_values.setdefault(name, []).append(value)
            used.append((name, value))
        elif base in supported and _modifier_ok(resource_type, base, supported[base][0], modifier):
            criteria.append((base, modifier or None, value))
            used.append((name, value))
        elif strict:
            raise BadRequest(f"unknown search parameter {name!r} for {resource_type}")
    controls = _controls(resource_type, control_values, strict)
    parse = patient_criteria if resource_type == "Patient" else study_criteria
    return ParsedSearch(
        resource_type, controls, parse(archive, criteria), tuple(used), tuple(criteria)
    )


def _modifier_ok(resource_type: str, name: str, kind: str, modifier: str) -> bool:
    """The modifiers openvna implements (search.html#modifiers): ``:exact`` and ``:contains``
    on strings, ``:of-type`` on ImagingStudy's identifier (the accession number, type ACSN)."""
    if not modifier:
        return True
    if kind == "string":
        return modifier in ("exact", "contains")
    return (resource_type, name, modifier) == ("ImagingStudy", "identifier", "of-type")


def _controls(resource_type: str, found: dict[str, list[str]], strict: bool) -> Controls:
    count = min(_integer("_count", _last(found, "_count"), DEFAULT_COUNT), MAX_COUNT)
    offset = _integer("_offset", _last(found, "_offset"), 0)
    ascending = None
    sort = _last(found, "_sort")
    if sort is not None:
        if resource_type == "ImagingStudy" and sort in ("started", "-started"):
            ascending = sort == "started"
        elif strict:
            raise BadRequest(f"_sort: {sort!r} is not supported (only started, -started)")
    summary = _last(found, "_summary")
    if summary is not None and summary not in _SUMMARIES:
        raise BadRequest(f"_summary: {summary!r} is not one of {', '.join(sorted(_SUMMARIES))}")
    listed = found.get("_elements", [])
    elements = tuple(e for raw in listed for e in split_values("_elements", raw))
    include = _links("_include", found, INCLUDES.get(resource_type, ()), strict)
    revinclude = _links("_revinclude", found, REVINCLUDES.get(resource_type, ()), strict)
    return Controls(count, offset, ascending, summary, elements, include, revinclude)


def paging(params: Sequence[tuple[str, str]]) -> Controls:
    """The controls of the written resources' search (``WRITTEN_CONTROLS``)."""
    found: dict[str, list[str]] = {}
    for name, value in params:
        if name in WRITTEN_CONTROLS:
            found.setdefault(name, []).append(value)
    return _controls("", found, strict=False)


def read_controls(params: Sequence[tuple[str, str]]) -> tuple[str | None, tuple[str, ...]]:
    """``_summary`` and ``_elements`` of a read (R4 search.html#summary applies to reads too)."""
    found: dict[str, list[str]] = {}
    for name, value in params:
        if name in ("_summary", "_elements"):
            found.setdefault(name, []).append(value)
    controls = _controls("", found, strict=False)
    return controls.summary, controls.elements


def _last(found: dict[str, list[str]], name: str) -> str | None:
    values = found.get(name)
    if values is None:
        return None
    if len(values) > 1:
        raise BadRequest(f"{name}: given more than once")
    return values[0].strip()


def _integer(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) > _INT_LIMIT:
        raise BadRequest(f"{name}: {value!r} is not an integer from 0 to {_INT_LIMIT}")
    return int(value)


def _links(
    name: str, found: dict[str, list[str]], allowed: tuple[str, ...], strict: bool
) -> tuple[str, ...]:
    chosen = []
    for value in found.get(name, []):
        base = ":".join(value.split(":")[:2])
        if base in allowed and value.count(":") <= 2:
            chosen.append(base)
        elif strict:
            raise BadRequest(f"{name}: {value!r} is not supported (supported: {allowed})")
    return tuple(dict.fromkeys(chosen))
