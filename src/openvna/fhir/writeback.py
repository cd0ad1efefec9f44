"""Write-back (issue 10): an EHR's Patient demographics over the DICOM-derived ones, and the
DiagnosticReport and ServiceRequest resources that point at studies, versioned in the index
(``archive.resources``; R4 http.html#create, #update, #vread, #history, #concurrency).

- **Patient**: stored under the id of the DICOM patient it names (``PUT Patient/<id>``, or
  ``POST Patient`` matched by identifier: Patient ID, system = issuer); a read merges it over
  the DICOM-derived resource (its elements win; identifiers are joined). A Patient no study
  names yet is kept under the id its identifier will have, so studies stored later join it.
- **DiagnosticReport**, **ServiceRequest**: stored as written, with server-assigned ids on
  create; their links (subject, imagingStudy resolved to the Study Instance UID, basedOn,
  identifiers: a ServiceRequest's are the accession numbers of the studies it ordered) make
  ``DiagnosticReport?imaging-study=`` and ``ImagingStudy?basedon=`` work from either side.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from openvna.archive import Archive
from openvna.archive.resources import ResourceStore, StoredResource
from openvna.errors import BadRequest
from openvna.fhir.ids import PatientKey, is_fhir_id, patient_id
from openvna.fhir.patient_match import OVERRIDDEN
from openvna.fhir.patients import find_patient
from openvna.fhir.studies import find_study_uid

__all__ = ["OVERRIDES", "WRITABLE", "WriteBack", "Written", "links_of", "stored_resource"]

WRITABLE = ("Patient", "DiagnosticReport", "ServiceRequest")
OVERRIDES = "overrides"  # the link naming a Patient element an EHR wrote
Resource = dict[str, Any]


@dataclass(frozen=True)
class Written:
    resource: Resource
    version: int
    last_updated: str
    created: bool


def stored_resource(stored: StoredResource) -> Resource:
    """A stored version as its resource (meta.versionId and lastUpdated are in the JSON)."""
    resource: Resource = orjson.loads(stored.json)
    return resource


class WriteBack:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.store = ResourceStore(archive.index)

    def create(self, resource_type: str, resource: Resource) -> Written:
        """POST [type]: a new resource; a Patient is matched by identifier first."""
        if resource_type == "Patient":
            return self._write(resource_type, self._patient_id(resource), resource, None)
        return self._write(resource_type, str(uuid.uuid4()), resource, 0)

    def update(
        self, resource_type: str, resource_id: str, resource: Resource, if_match: int | None
    ) -> Written:
        """PUT [type]/[id]: the body's id must be the URL's (R4 http.html#update); update as
        create is allowed (client-assigned ids)."""
        if resource.get("id") != resource_id:
            raise BadRequest(
                f"the body's id {resource.get('id')!r} is not the URL's id {resource_id!r}"
            )
        if not is_fhir_id(resource_id):
            raise BadRequest(f"{resource_id!r} is not a valid id")
        return self._write(resource_type, resource_id, resource, if_match)

    def _write(
        self, resource_type: str, resource_id: str, resource: Resource, expect: int | None
    ) -> Written:
        body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
        links = [("_id", resource_id), *links_of(self.archive, resource_type, body)]
        if resource_type == "Patient":
            # The demographics it overrides, which Patient search matches on (patient_match).
            links += [(OVERRIDES, e) for e in dict.fromkeys(OVERRIDDEN.values()) if e in body]

        def build(version: int, stamp: str) -> bytes:
            meta = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": stamp}
            meta.pop("source", None)
            full = {"resourceType": resource_type, "id": resource_id, "meta": meta, **body}
            full["resourceType"] = resource_type
            return orjson.dumps(full)

        stored = self.store.save(resource_type, resource_id, build, links, expect_version=expect)
        # A Patient's first write over a DICOM patient updates a resource that existed.
        existed = resource_type == "Patient" and find_patient(self.archive, resource_id) is not None
        created = stored.version == 1 and not existed
        return Written(stored_resource(stored), stored.version, stored.last_updated, created)

    def _patient_id(self, resource: Resource) -> str:
        """The id a POSTed Patient is kept under: the DICOM patient one of its identifiers
        names, else a Patient already written with that identifier, else the id the first
        identifier will have (``ids.patient_id``)."""
        keys = [k for k in (_key(i) for i in resource.get("identifier", [])) if k is not None]
        if not keys:
            raise BadRequest("a Patient is matched by identifier: give at least one (with a value)")
        for key in keys:
            ident = patient_id(key)
            if ident is not None and find_patient(self.archive, ident) is not None:
                return ident
        for key in keys:
            found = self.store.linked("Patient", "identifier", [key.patient_id])
            if found:
                return found[0][1]
        return patient_id(keys[0]) or str(uuid.uuid4())


def _key(identifier: Any) -> PatientKey | None:
    if not isinstance(identifier, dict) or not identifier.get("value"):
        return None
    system = identifier.get("system") or ""
    return PatientKey(str(identifier["value"]), system.removeprefix("urn:oid:"))


def _reference_ids(references: Any, resource_type: str) -> list[str]:
    found = []
    for reference in references if isinstance(references, list) else [references]:
        text = reference.get("reference", "") if isinstance(reference, dict) else ""
        kind, _, ident = text.rstrip("/").rpartition("/")
        if kind.rpartition("/")[2] == resource_type and ident:
            found.append(ident)
    return found


def links_of(archive: Archive, resource_type: str, resource: Resource) -> list[tuple[str, str]]:
    """The search values of a resource (names as its search parameters)."""
    links: list[tuple[str, str]] = []
    for identifier in resource.get("identifier", []):
        value = identifier.get("value") if isinstance(identifier, dict) else None
        if value:
            links.append(("identifier", value))
            if identifier.get("system"):
                links.append(("identifier", f"{identifier['system']}|{value}"))
            if resource_type == "ServiceRequest":
                links.append(("accession", value))
    if isinstance(resource.get("status"), str):
        links.append(("status", resource["status"]))
    subject = resource.get("subject")
    for ident in _reference_ids(subject, "Patient"):
        links += [("patient", ident), ("subject", f"Patient/{ident}")]
    for ident in _reference_ids(resource.get("basedOn", []), "ServiceRequest"):
        links.append(("based-on", ident))
    for ident in _reference_ids(resource.get("imagingStudy", []), "ImagingStudy"):
        links.append(("imaging-study", ident))
        uid = find_study_uid(archive, ident)
        if uid is not None:
            links.append(("imaging-study", uid))
    return links
