"""FHIR search (R4 search.html) for Patient and ImagingStudy, parsed into the archive's ``Query``.

A request's parameters split into result controls (``_count``, ``_sort``, ``_include``, ...) and
criteria. Criteria on the study or patient become match terms of one STUDY- or PATIENT-level
``Query``; criteria on series or instances (``series``, ``modality`` is study-level through
ModalitiesInStudy, ``dicom-class``, ``instance``, ``bodysite``) first find the studies that hold
a matching series or instance, and the study query is then restricted to those UIDs. Repeated
parameters are ANDed, comma-separated values ORed (search.html#combining).

Unknown parameters and modifiers follow ``Prefer: handling`` (search.html#errors): lenient (the
default) leaves them out of the search and of the ``self`` link; strict refuses the request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from openvna.archive import Archive
from openvna.archive.resources import ResourceStore
from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm
from openvna.dicom.query import Level, Query
from openvna.dicom.uid import is_valid_uid
from openvna.errors import BadRequest
from openvna.fhir import values as v
from openvna.fhir.ids import parse_patient_id
from openvna.fhir.mapping import DICOM_UID_SYSTEM, SOP_CLASS_SYSTEM
from openvna.fhir.params import date_bounds, reference_id, split_values, token
from openvna.fhir.patients import find_patient, key_terms
from openvna.fhir.studies import STUDY_ENDPOINTS, find_study_uid
from openvna.fhir.terms import any_of, single, tag_of, wildcard

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "SEARCH_PARAMETERS",
    "Controls",
    "Criteria",
    "Narrowing",
    "ParsedSearch",
    "paging",
    "parse_search",
    "read_controls",
]

DEFAULT_COUNT = 50
MAX_COUNT = 1000
_INT_LIMIT = 2**31 - 1
_STATUSES = frozenset({"registered", "available", "cancelled", "entered-in-error", "unknown"})
_GENDERS = {"male": "M", "female": "F", "other": "O"}

# name -> (type, documentation): what the CapabilityStatement lists, exactly what is parsed.
SEARCH_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "Patient": {
        "_id": ("token", "Logical id (Patient ID, or p. + Base64 of issuer and ID)"),
        "identifier": ("token", "Patient ID (0010,0020), system from its issuer"),
        "name": ("string", "Any part of Patient's Name (0010,0010), starts with"),
        "family": ("string", "Family name, starts with"),
        "given": ("string", "Given or middle name, starts with"),
        "birthdate": ("date", "Patient's Birth Date (0010,0030)"),
        "gender": ("token", "Patient's Sex (0010,0040): male, female, other"),
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
    },
}
INCLUDES = {
    "ImagingStudy": ("ImagingStudy:subject", "ImagingStudy:patient", "ImagingStudy:endpoint")
}
REVINCLUDES = {"Patient": ("ImagingStudy:patient", "ImagingStudy:subject")}
_CONTROLS = frozenset(
    {"_count", "_offset", "_sort", "_summary", "_elements", "_include", "_revinclude", "_total"}
)
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
class Narrowing:
    """A series- or instance-level search whose matches' studies the result is restricted to;
    ``keep`` filters its matches on what the index does not match itself."""

    query: Query
    keep: Callable[[DicomJson], bool] | None = None


@dataclass(frozen=True)
class Criteria:
    terms: tuple[MatchTerm, ...] = ()
    narrowings: tuple[Narrowing, ...] = ()
    nothing: bool = False
    fuzzy: bool = False
    patient_checks: tuple[Callable[[DicomJson], bool], ...] = field(default=())


@dataclass(frozen=True)
class ParsedSearch:
    resource_type: str
    controls: Controls
    criteria: Criteria
    used: tuple[tuple[str, str], ...]


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
        elif base in supported and _modifier_ok(supported[base][0], modifier):
            criteria.append((base, modifier or None, value))
            used.append((name, value))
        elif strict:
            raise BadRequest(f"unknown search parameter {name!r} for {resource_type}")
    controls = _controls(resource_type, control_values, strict)
    parse = _patient_criteria if resource_type == "Patient" else _study_criteria
    return ParsedSearch(resource_type, controls, parse(archive, criteria), tuple(used))


def _modifier_ok(kind: str, modifier: str) -> bool:
    if not modifier:
        return True
    return kind == "string" and modifier in ("exact", "contains")


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
    """``_count`` and ``_offset`` alone (the written resources' search)."""
    found: dict[str, list[str]] = {}
    for name, value in params:
        if name in ("_count", "_offset"):
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


class _Builder:
    """The criteria as they are parsed, parameter by parameter."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.terms: list[MatchTerm] = []
        self.narrowings: list[Narrowing] = []
        self.checks: list[Callable[[DicomJson], bool]] = []
        self.nothing = False
        self.fuzzy = False

    def criteria(self) -> Criteria:
        return Criteria(
            tuple(self.terms), tuple(self.narrowings), self.nothing, self.fuzzy, tuple(self.checks)
        )


_Handler = Callable[[_Builder, str, str | None, list[str]], None]


def _criteria(
    archive: Archive,
    handlers: dict[str, _Handler],
    criteria: list[tuple[str, str | None, str]],
) -> Criteria:
    built = _Builder(archive)
    for name, modifier, raw in criteria:
        handlers[name](built, name, modifier, split_values(name, raw))
    return built.criteria()


# -- Patient ----------------------------------------------------------------------------------


def _patient_criteria(archive: Archive, criteria: list[tuple[str, str | None, str]]) -> Criteria:
    return _criteria(archive, _PATIENT_HANDLERS, criteria)


def _patient_ids(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    found = [find_patient(built.archive, value) for value in values]
    keys = frozenset(_pair(ds) for ds in found if ds is not None)
    if not keys:
        built.nothing = True
        return
    built.terms.append(any_of("PatientID", sorted(k[0] for k in keys)))
    built.checks.append(lambda ds: _pair(ds) in keys)


def _identifier(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.terms += _patient_identifier(values)


def _names(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    term, fuzzy = _name_term(name, modifier, values)
    built.terms.append(term)
    built.fuzzy = built.fuzzy or fuzzy


def _birthdate(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    if len(values) > 1:
        _one(name)
    birth = tag_of("PatientBirthDate"), tag_of("PatientBirthTime")
    built.terms.append(date_bounds(name, values[0], *birth).date)


def _genders(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.terms.append(any_of("PatientSex", [_gender(value) for value in values]))


_PATIENT_HANDLERS: dict[str, _Handler] = {
    "_id": _patient_ids,
    "identifier": _identifier,
    "name": _names,
    "family": _names,
    "given": _names,
    "birthdate": _birthdate,
    "gender": _genders,
}


def _pair(ds: DicomJson) -> tuple[str, str]:
    return v.text(ds, "00100020"), v.text(ds, "00100021")


def _one(name: str) -> None:
    raise BadRequest(f"{name}: several values (OR) are not supported for dates")


def _gender(value: str) -> str:
    system, code = token(value)
    if code in _GENDERS and system in (None, "", "http://hl7.org/fhir/administrative-gender"):
        return _GENDERS[code]
    raise BadRequest(f"gender: {value!r} is not male, female or other")


def _patient_identifier(values: list[str]) -> list[MatchTerm]:
    """``[system|]value``: the Patient ID; a system is its issuer (the OID of ``urn:oid:``,
    see ``mapping.identifier_system``), matched with it."""
    if len(values) > 1:
        codes = [token(value) for value in values]
        if any(system for system, _ in codes):
            raise BadRequest("identifier: several values with a system are not supported")
        return [any_of("PatientID", [_code("identifier", c) for _, c in codes])]
    system, code = token(values[0])
    terms = [single("PatientID", _code("identifier", code))]
    if system:
        terms.append(single("IssuerOfPatientID", system.removeprefix("urn:oid:")))
    return terms


def _code(name: str, code: str) -> str:
    if not code:
        raise BadRequest(f"{name}: a value is required")
    return code


def _name_term(name: str, modifier: str | None, values: list[str]) -> tuple[MatchTerm, bool]:
    """Names match case-insensitively (PS3.4 C.2.2.2.1 on an upper-cased column). ``family``
    starts the name; ``given`` starts a later component; ``name`` starts any component (the
    index's fuzzy PN matching); ``:exact`` is the whole component, ``:contains`` anywhere."""
    if len(values) > 1:
        raise BadRequest(f"{name}: several values (OR) are not supported for names")
    value = "".join("?" if ch in "*?^=\\" else ch for ch in values[0])
    if modifier == "contains":
        return wildcard("PatientName", f"*{value}*"), False
    if name == "family":
        return wildcard("PatientName", f"{value}^*" if modifier == "exact" else f"{value}*"), False
    if name == "given":
        pattern = f"*^{value}" if modifier == "exact" else f"*^{value}*"
        return wildcard("PatientName", pattern), False
    if modifier == "exact":
        return single("PatientName", value), False
    return single("PatientName", value), True


# -- ImagingStudy -----------------------------------------------------------------------------


def _study_criteria(archive: Archive, criteria: list[tuple[str, str | None, str]]) -> Criteria:
    return _criteria(archive, _STUDY_HANDLERS, criteria)


def _study_ids(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    uids = [u for u in (find_study_uid(built.archive, value) for value in values) if u]
    built.nothing = built.nothing or not uids
    if uids:
        built.terms.append(any_of("StudyInstanceUID", uids))


def _subject(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    found = _patient_terms(built.archive, name, values)
    built.nothing = built.nothing or found is None
    built.terms += found or ()


def _study_identifiers(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.terms.append(_study_identifier(values))


def _started(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    if len(values) > 1:
        _one(name)
    bounds = date_bounds(name, values[0], tag_of("StudyDate"), tag_of("StudyTime"))
    built.terms += [t for t in (bounds.date, bounds.time) if t is not None]


def _modalities(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.terms.append(any_of("ModalitiesInStudy", [_dcm_code(name, x) for x in values]))


def _uids(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.narrowings.append(_uid_narrowing(name, values))


def _body_sites(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.narrowings.append(_body_site(values))


def _status(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.nothing = built.nothing or not _statuses(values)


def _endpoint(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    ids = [reference_id(name, value, "Endpoint") for value in values]
    built.nothing = built.nothing or not any(i in STUDY_ENDPOINTS for i in ids)


def _based_on(built: _Builder, name: str, modifier: str | None, values: list[str]) -> None:
    """``basedon=ServiceRequest/<id>``: the studies whose accession number is an identifier of
    that ServiceRequest (written back, ``fhir.writeback``)."""
    store = ResourceStore(built.archive.index)
    accessions: list[str] = []
    for value in values:
        ident = reference_id(name, value, "ServiceRequest")
        stored = store.current("ServiceRequest", ident) if ident else None
        if stored is not None:
            request = orjson.loads(stored.json)
            accessions += [i["value"] for i in request.get("identifier", []) if i.get("value")]
    if accessions:
        built.terms.append(any_of("AccessionNumber", accessions))
    else:
        built.nothing = True


_STUDY_HANDLERS: dict[str, _Handler] = {
    "_id": _study_ids,
    "patient": _subject,
    "subject": _subject,
    "identifier": _study_identifiers,
    "started": _started,
    "modality": _modalities,
    "series": _uids,
    "instance": _uids,
    "dicom-class": _uids,
    "bodysite": _body_sites,
    "status": _status,
    "endpoint": _endpoint,
    "basedon": _based_on,
}


def _patient_terms(archive: Archive, name: str, values: list[str]) -> list[MatchTerm] | None:
    """The terms of a patient reference, from its id alone (``ids.parse_patient_id``: an
    encoded id carries its issuer), so the search is one statement with no lookup first."""
    if len(values) > 1:
        raise BadRequest(f"{name}: several patients (OR) are not supported")
    ident = reference_id(name, values[0], "Patient")
    keys = parse_patient_id(ident) if ident is not None else []
    if not keys:
        return None
    return list(key_terms(keys[-1]))


def _study_identifier(values: list[str]) -> MatchTerm:
    """``urn:dicom:uid|urn:oid:<uid>`` or ``urn:oid:<uid>``: the Study Instance UID (FS-01);
    anything else the accession number (its system, the issuer, is not matched)."""
    uids, accessions = [], []
    for value in values:
        system, code = token(value)
        if system in (None, DICOM_UID_SYSTEM) and code.startswith("urn:oid:"):
            uid = code.removeprefix("urn:oid:")
            if not is_valid_uid(uid):
                raise BadRequest(f"identifier: {uid!r} is not a valid UID")
            uids.append(uid)
        elif system == DICOM_UID_SYSTEM:
            raise BadRequest(f"identifier: {code!r} is not urn:oid:<uid>")
        elif code:
            accessions.append(code)
        else:
            raise BadRequest(f"identifier: {value!r} has no value")
    if uids and accessions:
        raise BadRequest("identifier: UIDs and accession numbers cannot be ORed")
    if uids:
        return any_of("StudyInstanceUID", uids)
    return any_of("AccessionNumber", accessions)


def _dcm_code(name: str, value: str) -> str:
    system, code = token(value)
    if system not in (None, "", v.DCM) or not code or not code.isascii():
        raise BadRequest(f"{name}: {value!r} is not a DICOM modality code")
    return code


def _uid_narrowing(name: str, values: list[str]) -> Narrowing:
    keyword, level, system = {
        "series": ("SeriesInstanceUID", Level.SERIES, None),
        "instance": ("SOPInstanceUID", Level.INSTANCE, None),
        "dicom-class": ("SOPClassUID", Level.INSTANCE, SOP_CLASS_SYSTEM),
    }[name]
    uids = []
    for value in values:
        given, code = token(value)
        if given not in (None, "", system):
            raise BadRequest(f"{name}: unknown system {given!r}")
        uid = code.removeprefix("urn:oid:")
        if not is_valid_uid(uid):
            raise BadRequest(f"{name}: {code!r} is not a valid UID")
        uids.append(uid)
    return Narrowing(Query(level, (any_of(keyword, uids),), limit=None))


def _body_site(values: list[str]) -> Narrowing:
    """Body Part Examined (0018,0015) is kept in the series' JSON, not a column: the series
    that have one are read and compared here (codes are case-insensitive CS values)."""
    wanted = {token(value)[1].upper() for value in values}
    query = Query(Level.SERIES, includefields=(tag_of("BodyPartExamined"),), limit=None)
    return Narrowing(query, lambda ds: v.text(ds, "00180015").upper() in wanted)


def _statuses(values: list[str]) -> bool:
    for value in values:
        if token(value)[1] not in _STATUSES:
            raise BadRequest(f"status: {value!r} is not an ImagingStudy status")
    return any(token(value)[1] == "available" for value in values)
