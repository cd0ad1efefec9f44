"""Patient search parameters (R4 patient.html#search) as terms of a PATIENT-level ``Query``:
identifier, names (PS3.4 C.2.2.2 person name matching on an upper-cased column), birth date and
sex, which the index matches through the patient's studies."""

from __future__ import annotations

from openvna.archive import Archive
from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm
from openvna.errors import BadRequest
from openvna.fhir import values as v
from openvna.fhir.criteria import Builder, Criteria, Handler, build_criteria, only_one
from openvna.fhir.params import DateBounds, date_bounds, token
from openvna.fhir.patients import find_patient
from openvna.fhir.terms import any_of, single, tag_of, wildcard

__all__ = ["patient_criteria"]

_SEXES = {"male": "M", "female": "F", "other": "O"}
_GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"


def patient_criteria(archive: Archive, criteria: list[tuple[str, str | None, str]]) -> Criteria:
    return build_criteria(archive, _PATIENT_HANDLERS, criteria)


def _patient_ids(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    found = [find_patient(built.archive, value) for value in values]
    keys = frozenset(_pair(ds) for ds in found if ds is not None)
    if not keys:
        built.nothing = True
        return
    built.terms.append(any_of("PatientID", sorted(k[0] for k in keys)))
    built.checks.append(lambda ds: _pair(ds) in keys)


def _identifier(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    built.terms += _patient_identifier(values)


def _names(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    term, fuzzy = _name_term(name, modifier, values)
    built.terms.append(term)
    built.fuzzy = built.fuzzy or fuzzy


def _birthdate(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    only_one(name, values)
    birth = tag_of("PatientBirthDate"), tag_of("PatientBirthTime")
    bounds = date_bounds(name, values[0], *birth)
    built.dates(DateBounds(bounds.date, None, bounds.outside))


def _genders(built: Builder, name: str, modifier: str | None, values: list[str]) -> None:
    """administrative-gender codes; ``unknown`` is what the mapping gives a Patient's Sex that
    is absent or not M, F or O (PT-03): matched as not being one of the codes not asked for."""
    codes = {_gender(value) for value in values}
    if "unknown" not in codes:
        built.terms.append(any_of("PatientSex", sorted(_SEXES[c] for c in codes)))
        return
    others = sorted(sex for code, sex in _SEXES.items() if code not in codes)
    if others:
        built.excluded.append((any_of("PatientSex", others),))


_PATIENT_HANDLERS: dict[str, Handler] = {
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


def _gender(value: str) -> str:
    system, code = token(value)
    if (code in _SEXES or code == "unknown") and system in (None, "", _GENDER_SYSTEM):
        return code
    raise BadRequest(f"gender: {value!r} is not male, female, other or unknown")


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
