"""Patient resources read from the index's patients through the archive's find service."""

from __future__ import annotations

from typing import Any

from openvna.archive import Archive
from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm
from openvna.dicom.query import Level, Query
from openvna.fhir.ids import PatientKey, parse_patient_id
from openvna.fhir.mapping import patient, patient_key
from openvna.fhir.terms import single

__all__ = ["find_patient", "key_terms", "patients"]


def key_terms(key: PatientKey) -> tuple[MatchTerm, ...]:
    """The terms of one patient. An empty issuer cannot be a DICOM match value (it would match
    any, C.2.2.2.3), so those results are checked with ``patient_key`` as well."""
    terms = [single("PatientID", key.patient_id)]
    if key.issuer:
        terms.append(single("IssuerOfPatientID", key.issuer))
    return tuple(terms)


def find_patient(archive: Archive, resource_id: str) -> DicomJson | None:
    """The stored patient a Patient id stands for (``ids`` module docstring), or None."""
    for key in parse_patient_id(resource_id):
        query = Query(Level.PATIENT, key_terms(key), include_all=True, limit=None)
        for ds in archive.find(query):
            if patient_key(ds) == key:
                return ds
    return None


def patients(datasets: list[DicomJson]) -> list[dict[str, Any]]:
    """The Patient of each PATIENT-level dataset that can have an id."""
    return [r for r in (patient(ds) for ds in datasets) if r is not None]
