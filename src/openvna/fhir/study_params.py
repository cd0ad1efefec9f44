"""ImagingStudy search parameters (R4 imagingstudy.html#search, STANDARDS.md §1.4) as terms
of a STUDY-level ``Query``, or as narrowings: the studies holding a matching series or instance."""

from __future__ import annotations

import dataclasses

import orjson

from openvna.archive import Archive
from openvna.archive.resources import ResourceStore
from openvna.dicom.matching import MatchTerm
from openvna.dicom.query import Level, Query
from openvna.dicom.uid import is_valid_uid
from openvna.errors import BadRequest
from openvna.fhir import values as v
from openvna.fhir.criteria import Builder, Criteria, Handler, build_criteria, only_one
from openvna.fhir.ids import parse_patient_id
from openvna.fhir.mapping import DICOM_UID_SYSTEM, SOP_CLASS_SYSTEM, V2_0203
from openvna.fhir.params import date_bounds, instant_bounds, reference_id, token
from openvna.fhir.patients import key_terms
from openvna.fhir.studies import STUDY_ENDPOINTS, find_study_uid
from openvna.fhir.terms import any_of, tag_of

__all__ = ["study_criteria"]

_REASON_SEQUENCE = tag_of("ReasonForPerformedProcedureCodeSequence")
_STATUSES = frozenset({"registered", "available", "cancelled", "entered-in-error", "unknown"})


def study_criteria(archive: Archive, criteria: list[tuple[str, str | None, str]]) -> Criteria:
    return build_criteria(archive, _STUDY_HANDLERS, criteria)


def _study_ids(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    uids = [u for u in (find_study_uid(built.archive, value) for value in values) if u]
    built.nothing = built.nothing or not uids
    if uids:
        built.terms.append(any_of("StudyInstanceUID", uids))


def _subject(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    found = _patient_terms(built.archive, name, values)
    built.nothing = built.nothing or found is None
    built.terms += found or ()


def _study_identifiers(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    if modifier == "of-type":
        built.terms.append(any_of("AccessionNumber", [_of_type(value) for value in values]))
    else:
        built.terms.append(_study_identifier(values))


def _of_type(value: str) -> str:
    """``identifier:of-type=<type system>|<type code>|<value>`` (R4 search.html#token): the
    accession number is the identifier of type v2-0203 ACSN (FS-02)."""
    parts = value.split("|")
    if len(parts) != 3 or not parts[2]:
        raise BadRequest(f"identifier:of-type: {value!r} is not system|code|value")
    system, code, accession = parts
    if (system, code) != (V2_0203, "ACSN"):
        raise BadRequest(f"identifier:of-type: only {V2_0203}|ACSN (accession) is indexed")
    return accession


def _started(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    only_one(name, values)
    built.dates(date_bounds(name, values[0], tag_of("StudyDate"), tag_of("StudyTime")))


def _last_updated(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    """``_lastUpdated``: the study's change time in the index (``meta.lastUpdated``)."""
    built.changed.append(instant_bounds(name, only_one(name, values)))


def _modalities(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.terms.append(any_of("ModalitiesInStudy", [_dcm_code(name, x) for x in values]))


def _uids(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.narrowings.append(_uid_narrowing(name, values))


def _body_sites(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.narrowings.append(_body_site(values))


def _status(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.nothing = built.nothing or not _statuses(values)


def _endpoint(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    ids = [reference_id(name, value, "Endpoint") for value in values]
    built.nothing = built.nothing or not any(i in STUDY_ENDPOINTS for i in ids)


def _based_on(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
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


def _reasons(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    """ImagingStudy.reasonCode: Reason For Performed Procedure Code Sequence (0040,1012), on the
    index's study/reason rows: the code, and with a system the coding schemes it stands for
    (``values.code_of``: SCT and SRT are SNOMED CT); ``|code``, a coding without a system, is a
    code of a scheme FHIR names no system for. Code and scheme match any item each: for the
    one-item sequences studies carry, that is the item's pair."""
    wanted = [token(value) for value in values]
    systems = {system for system, _ in wanted}
    if len(systems) > 1:
        raise BadRequest(f"{name}: values of different systems cannot be ORed here")
    built.terms.append(_reason_term("CodeValue", [code for _, code in wanted]))
    (system,) = systems
    if system is None:
        return
    if system == "":
        built.excluded.append((_reason_term("CodingSchemeDesignator", sorted(v.SCHEMES)),))
        return
    schemes = [scheme for scheme, uri in v.SCHEMES.items() if uri == system]
    if not schemes:
        built.nothing = True
        return
    built.terms.append(_reason_term("CodingSchemeDesignator", schemes))


def _reason_term(keyword: str, values: list[str]) -> MatchTerm:
    term = any_of(keyword, values)
    return dataclasses.replace(term, sequence=_REASON_SEQUENCE)


_STUDY_HANDLERS: dict[str, Handler] = {
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
    "reason": _reasons,
    "status": _status,
    "endpoint": _endpoint,
    "basedon": _based_on,
    "_lastUpdated": _last_updated,
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


def _uid_narrowing(name: str, values: list[str]) -> Query:
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
    return Query(level, (any_of(keyword, uids),), limit=None)


def _body_site(values: list[str]) -> Query:
    """Body Part Examined (0018,0015), a column of the series: the studies holding a series of
    that body part (CS values are upper case, PS3.5 6.2: the code is compared upper-cased)."""
    parts = [token(value)[1].upper() for value in values]
    return Query(Level.SERIES, (any_of("BodyPartExamined", parts),), limit=None)


def _statuses(values: list[str]) -> bool:
    for value in values:
        if token(value)[1] not in _STATUSES:
            raise BadRequest(f"status: {value!r} is not an ImagingStudy status")
    return any(token(value)[1] == "available" for value in values)
