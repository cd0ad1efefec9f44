"""Patient search criteria (R4 patient.html#search) checked on a Patient resource: for the
Patients whose demographics an EHR wrote back (``fhir.writeback``), which a search must match on
the values a read returns (the written ones), not on the DICOM ones the index holds.

The rules are those the index applies to DICOM patients (``patient_params``): names start with
the value, case-insensitively (``:exact`` the whole part, ``:contains`` anywhere); ``family``
the family name, ``given`` a given name, ``name`` any part; dates by prefix over the value's
interval (R4 search.html#prefix); tokens by code, and system when given. An element the resource
lacks matches no value (R4 search.html#missing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from openvna.errors import BadRequest
from openvna.fhir.params import date_bounds, split_values, token
from openvna.fhir.terms import tag_of

__all__ = ["OVERRIDDEN", "patient_matches"]

Resource = dict[str, Any]

# The Patient search parameters whose values a written-back element replaces, by element.
OVERRIDDEN = {
    "name": "name",
    "family": "name",
    "given": "name",
    "birthdate": "birthDate",
    "gender": "gender",
}


def patient_matches(resource: Resource, criteria: Sequence[tuple[str, str | None, str]]) -> bool:
    """Whether ``resource`` matches every (parameter, modifier, value) of a Patient search."""
    return all(
        _CHECKS[name](resource, name, modifier, split_values(name, raw))
        for name, modifier, raw in criteria
    )


def _names(resource: Resource, name: str, modifier: str | None, values: list[str]) -> bool:
    if len(values) > 1:
        raise BadRequest(f"{name}: several values (OR) are not supported for names")
    wanted = values[0].upper()
    parts: list[str] = []
    for human in resource.get("name", []):
        if name in ("family", "name"):
            parts.append(human.get("family", ""))
        if name in ("given", "name"):
            parts += human.get("given", [])
        if name == "name":
            parts += [*human.get("prefix", []), *human.get("suffix", []), human.get("text", "")]
    for part in (p.upper() for p in parts if p):
        if modifier == "exact" and part == wanted:
            return True
        if modifier == "contains" and wanted in part:
            return True
        if modifier is None and part.startswith(wanted):
            return True
    return False


def _birthdate(resource: Resource, name: str, modifier: str | None, values: list[str]) -> bool:
    if len(values) > 1:
        raise BadRequest(f"{name}: several values (OR) are not supported here")
    bounds = date_bounds(name, values[0], tag_of("PatientBirthDate"), tag_of("PatientBirthTime"))
    born = str(resource.get("birthDate", "")).replace("-", "")
    if len(born) != 8:
        return False  # absent, or to the year or month only: not placed in a day range
    inside = (bounds.date.low is None or born >= bounds.date.low) and (
        bounds.date.high is None or born <= bounds.date.high
    )
    return inside != bounds.outside


def _gender(resource: Resource, name: str, modifier: str | None, values: list[str]) -> bool:
    return any(token(value)[1] == resource.get("gender") for value in values)


def _identifier(resource: Resource, name: str, modifier: str | None, values: list[str]) -> bool:
    for value in values:
        system, code = token(value)
        for identifier in resource.get("identifier", []):
            if identifier.get("value") == code and system in (None, identifier.get("system", "")):
                return True
    return False


def _id(resource: Resource, name: str, modifier: str | None, values: list[str]) -> bool:
    return resource.get("id") in values


_CHECKS: dict[str, Callable[[Resource, str, str | None, list[str]], bool]] = {
    "_id": _id,
    "identifier": _identifier,
    "name": _names,
    "family": _names,
    "given": _names,
    "birthdate": _birthdate,
    "gender": _gender,
}
