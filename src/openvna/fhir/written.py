"""Reading the written resources back: a Patient's overrides merged over its DICOM-derived
resource, DiagnosticReport and ServiceRequest search (on their stored links). The
ServiceRequests an ImagingStudy is based on come with its listing (``fhir.studies``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from openvna.archive.resources import ResourceStore
from openvna.errors import BadRequest
from openvna.fhir.params import reference_id, split_values
from openvna.fhir.writeback import stored_resource

__all__ = [
    "STORED_PARAMETERS",
    "merge_patient",
    "stored_filters",
    "written_resource",
]

Resource = dict[str, Any]

# name -> (type, documentation), as search.SEARCH_PARAMETERS.
STORED_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "DiagnosticReport": {
        "_id": ("token", "Logical id"),
        "identifier": ("token", "An identifier of the report"),
        "patient": ("reference", "The subject, a Patient"),
        "subject": ("reference", "The subject"),
        "status": ("token", "The report's status"),
        "based-on": ("reference", "The ServiceRequest the report fulfils"),
        "imaging-study": ("reference", "An ImagingStudy of the report (by id or Study UID)"),
    },
    "ServiceRequest": {
        "_id": ("token", "Logical id"),
        "identifier": ("token", "An identifier (the accession number of its studies)"),
        "patient": ("reference", "The subject, a Patient"),
        "subject": ("reference", "The subject"),
        "status": ("token", "The request's status"),
    },
}
_REFERENCES = {"patient": "Patient", "based-on": "ServiceRequest", "imaging-study": "ImagingStudy"}


def stored_filters(
    resource_type: str,
    params: Sequence[tuple[str, str]],
    resolve_study: Callable[[str], str | None],
) -> list[tuple[str, list[str]]]:
    """The (link name, values) filters of a DiagnosticReport or ServiceRequest search; an
    ``imaging-study`` id is also looked for as the Study Instance UID it names."""
    filters: list[tuple[str, list[str]]] = []
    for name, raw in params:
        values = split_values(name, raw)
        if name == "_id":
            filters.append(("_id", values))
        elif name in _REFERENCES:
            ids = [reference_id(name, value, _REFERENCES[name]) for value in values]
            wanted = [i for i in ids if i]
            if name == "imaging-study":
                wanted += [u for u in (resolve_study(i) for i in wanted) if u]
            filters.append((name, wanted or ["\x00"]))
        elif name == "subject":
            ids = [reference_id(name, value, "Patient") for value in values]
            filters.append((name, [f"Patient/{i}" for i in ids if i] or ["\x00"]))
        elif name in ("identifier", "status"):
            filters.append((name, values))
        else:
            raise BadRequest(f"unknown search parameter {name!r} for {resource_type}")
    return filters


def merge_patient(derived: Resource | None, written: Resource | None) -> Resource | None:
    """The Patient as read: what the EHR wrote wins over what DICOM says, element by element;
    identifiers of both are kept (R4 patient.html: a Patient may carry several)."""
    if written is None:
        return derived
    if derived is None:
        return written
    merged = {**derived, **{k: v for k, v in written.items() if k not in ("id", "identifier")}}
    identifiers = list(derived.get("identifier", []))
    identifiers += [i for i in written.get("identifier", []) if i not in identifiers]
    if identifiers:
        merged["identifier"] = identifiers
    return merged


def written_resource(store: ResourceStore, resource_type: str, resource_id: str) -> Resource | None:
    stored = store.current(resource_type, resource_id)
    return stored_resource(stored) if stored is not None else None
