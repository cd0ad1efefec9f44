"""The FHIR service: read and search Patient, ImagingStudy and Endpoint, always from the index
(through ``Archive.find``), so a study stored a moment ago is found at once and a deleted one is
gone. Resources are plain dicts; no validation layer runs per request (the tests validate)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from openvna.archive import Archive
from openvna.archive.resources import ResourceStore, StoredResource
from openvna.dicom.json import DicomJson
from openvna.dicom.matching import MatchTerm
from openvna.dicom.query import Level, Query
from openvna.errors import BadRequest, NotFound
from openvna.fhir.bundle import history_bundle, searchset
from openvna.fhir.endpoints import Bases, endpoint, endpoints
from openvna.fhir.ids import PatientKey, parse_patient_id
from openvna.fhir.mapping import patient, patient_key
from openvna.fhir.params import split_values
from openvna.fhir.patient_match import OVERRIDDEN, patient_matches
from openvna.fhir.patients import find_patient, key_terms
from openvna.fhir.search import (
    MAX_COUNT,
    WRITTEN_CONTROLS,
    Controls,
    ParsedSearch,
    paging,
    parse_search,
    read_controls,
)
from openvna.fhir.shaping import shape
from openvna.fhir.studies import STUDY_ENDPOINTS, find_study_uid, imaging_studies
from openvna.fhir.terms import any_of, single
from openvna.fhir.writeback import OVERRIDES, WRITABLE, WriteBack, stored_resource
from openvna.fhir.written import (
    STORED_PARAMETERS,
    merge_patient,
    stored_filters,
    written_resource,
)

__all__ = ["RESOURCE_TYPES", "FhirService"]

Resource = dict[str, Any]
RESOURCE_TYPES = ("Patient", "ImagingStudy", "Endpoint", "DiagnosticReport", "ServiceRequest")
_EVERY = 2**31 - 1  # no limit: every written Patient of a kind is checked


class FhirService:
    """Patient, ImagingStudy and Endpoint over one archive (docs/internals.md ``openvna.fhir``)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.store = ResourceStore(archive.index)
        self.writes = WriteBack(archive)

    # -- read (R4 http.html#read) ------------------------------------------------------------

    def read(
        self,
        resource_type: str,
        resource_id: str,
        bases: Bases,
        params: Sequence[tuple[str, str]] = (),
    ) -> Resource:
        """The current resource, shaped by ``_summary``/``_elements`` among ``params``;
        NotFound (404) for an id that names nothing."""
        summary, elements = read_controls(params)
        found: Resource | None = None
        if resource_type == "Patient":
            ds = find_patient(self.archive, resource_id)
            derived = patient(ds) if ds is not None else None
            found = merge_patient(derived, written_resource(self.store, "Patient", resource_id))
        elif resource_type in WRITABLE:
            found = written_resource(self.store, resource_type, resource_id)
        elif resource_type == "ImagingStudy":
            found = self._read_study(resource_id)
        elif resource_type == "Endpoint":
            found = endpoint(resource_id, bases)
        if found is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        return shape(found, summary, elements)

    def _read_study(self, resource_id: str) -> Resource | None:
        uid = find_study_uid(self.archive, resource_id)
        if uid is None:
            return None
        query = Query(Level.STUDY, (single("StudyInstanceUID", uid),), include_all=True, limit=1)
        studies = imaging_studies(self.archive, list(self.archive.find(query)))
        return studies[0] if studies else None

    def vread(self, resource_type: str, resource_id: str, version: str) -> Resource:
        """``[type]/[id]/_history/[vid]`` (R4 http.html#vread) of a written resource."""
        number = int(version) if version.isascii() and version.isdigit() else 0
        stored = self.store.version(resource_type, resource_id, number) if number else None
        if stored is None:
            raise NotFound(f"{resource_type}/{resource_id} has no version {version!r}")
        return stored_resource(stored)

    def history(self, resource_type: str, resource_id: str, bases: Bases) -> Resource:
        """``[type]/[id]/_history`` (R4 http.html#history): a Bundle of type history."""
        versions = self.store.history(resource_type, resource_id)
        if not versions:
            raise NotFound(f"{resource_type}/{resource_id} has no history here")
        return history_bundle(bases.fhir, resource_type, resource_id, versions)

    # -- search (R4 search.html) -------------------------------------------------------------

    def search(
        self,
        resource_type: str,
        params: Sequence[tuple[str, str]],
        bases: Bases,
        *,
        strict: bool = False,
    ) -> Resource:
        """A Bundle searchset of one page; BadRequest for what ``parse_search`` refuses."""
        if resource_type == "Endpoint":
            return self._search_endpoints(params, bases, strict)
        if resource_type in STORED_PARAMETERS:
            return self._search_written(resource_type, params, bases, strict)
        parsed = parse_search(self.archive, resource_type, params, strict=strict)
        controls = parsed.controls
        page_size = 0 if controls.summary == "count" else controls.count
        if resource_type == "Patient":
            overriding = self._overriding_patients(parsed)
            leading = [r for r in overriding if patient_matches(r, parsed.given)]
            ahead = leading[controls.offset : controls.offset + page_size]
            after = dataclasses.replace(controls, offset=max(0, controls.offset - len(leading)))
            rest = dataclasses.replace(parsed, controls=after)
            total, datasets = self._patient_page(rest, page_size - len(ahead), overriding)
            matches = ahead + self._patients(datasets)
            written = self._written_patients(params, {r["id"] for r in matches})
            total += len(leading) + len(written)
            shown = ahead + (written if controls.offset == 0 and page_size else [])
            matches += shown[len(ahead) :]
            keys = [patient_key(ds) for ds in datasets]
            keys += [k[-1] for k in (parse_patient_id(r["id"]) for r in shown) if k]
            included = self._studies_of(keys) if controls.revinclude else []
        else:
            total, datasets = self._study_page(parsed, page_size)
            light = controls.summary in ("true", "text") and not controls.elements
            matches = imaging_studies(self.archive, datasets, with_instances=not light)
            included = self._study_includes(datasets, controls, bases)
        return searchset(
            bases.fhir,
            resource_type,
            parsed.used,
            total=total,
            offset=controls.offset,
            count=page_size,
            matches=[shape(r, controls.summary, controls.elements) for r in matches],
            included=included,
        )

    def _patients(self, datasets: list[DicomJson]) -> list[Resource]:
        """The Patients of a page, with what the EHR wrote for them merged in."""
        derived = [r for r in (patient(ds) for ds in datasets) if r is not None]
        written = self.store.currents("Patient", [r["id"] for r in derived])
        merged = [merge_patient(r, _loaded(written.get(r["id"]))) for r in derived]
        return [r for r in merged if r is not None]

    def _written_patients(
        self, params: Sequence[tuple[str, str]], found: set[str]
    ) -> list[Resource]:
        """Patients an EHR wrote that the DICOM search did not find (no study names them yet,
        or only their written identifier matches), for searches by ``_id`` and ``identifier``
        alone: exact lookups in the written links. They follow the DICOM matches on the first
        page and count in the total."""
        names = {name for name, _ in params if not name.startswith("_") or name == "_id"}
        if not names or not names <= {"_id", "identifier"}:
            return []
        filters = [(name, split_values(name, value)) for name, value in params if name in names]
        _, stored = self.store.search("Patient", filters, MAX_COUNT, 0)
        extra = []
        for item in stored:
            if item.resource_id in found:
                continue
            ds = find_patient(self.archive, item.resource_id)
            merged = merge_patient(patient(ds) if ds else None, stored_resource(item))
            if merged is not None:
                extra.append(merged)
        return extra

    def _overriding_patients(self, parsed: ParsedSearch) -> list[Resource]:
        """The Patients (as read) with a written-back element that the search matches on
        (name, birthDate, gender): they are matched here on those values (``patient_match``),
        and their DICOM patients left out of the index's search, which knows only the DICOM
        values. Those that match come first in the result (newest write first), then the
        index's matches: pages and the total count both."""
        elements = sorted({OVERRIDDEN[name] for name, _, _ in parsed.given if name in OVERRIDDEN})
        if not elements:
            return []
        _, stored = self.store.search("Patient", [(OVERRIDES, elements)], _EVERY, 0)
        found = []
        for item in stored:
            ds = find_patient(self.archive, item.resource_id)
            merged = merge_patient(patient(ds) if ds else None, stored_resource(item))
            if merged is not None:
                found.append(merged)
        return found

    def _search_written(
        self, resource_type: str, params: Sequence[tuple[str, str]], bases: Bases, strict: bool
    ) -> Resource:
        """DiagnosticReport and ServiceRequest search on their stored links, newest first,
        shaped by ``_summary`` and ``_elements`` as the other searches."""
        supported = STORED_PARAMETERS[resource_type]
        criteria, used = [], []
        for name, value in params:
            if name in supported:
                criteria.append((name, value))
            elif name not in (*WRITTEN_CONTROLS, "_format", "_pretty"):
                if strict:
                    raise BadRequest(f"unknown search parameter {name!r} for {resource_type}")
                continue
            used.append((name, value))
        page = paging(params)
        size = 0 if page.summary == "count" else page.count
        filters = stored_filters(resource_type, criteria, lambda i: find_study_uid(self.archive, i))
        total, found = self.store.search(resource_type, filters, size, page.offset)
        return searchset(
            bases.fhir,
            resource_type,
            used,
            total=total,
            offset=page.offset,
            count=size,
            matches=[shape(stored_resource(s), page.summary, page.elements) for s in found],
        )

    def _study_page(self, parsed: ParsedSearch, size: int) -> tuple[int, list[DicomJson]]:
        criteria, controls = parsed.criteria, parsed.controls
        if criteria.nothing:
            return 0, []
        query = Query(
            Level.STUDY,
            criteria.terms,
            include_all=True,
            combined_datetime=True,
            excluded=criteria.excluded,
            changed=criteria.changed,
            holding=criteria.narrowings,
        )
        return self._page(query, controls, size)

    def _patient_page(
        self, parsed: ParsedSearch, size: int, overriding: list[Resource]
    ) -> tuple[int, list[DicomJson]]:
        criteria = parsed.criteria
        if criteria.nothing:
            return 0, []
        query = Query(
            Level.PATIENT,
            criteria.terms,
            include_all=True,
            fuzzymatching=criteria.fuzzy,
            excluded=criteria.excluded + _patients_terms(overriding),
        )
        total, found = self._page(query, parsed.controls, size)
        checks = criteria.patient_checks
        return total, [ds for ds in found if all(check(ds) for check in checks)]

    def _page(self, query: Query, controls: Controls, size: int) -> tuple[int, list[DicomJson]]:
        """One page in the index's order (studies newest first), or reversed for an ascending
        sort: the same page counted from the other end, so one order serves both. A first
        page that is not full is its own total (no COUNT statement)."""
        offset = controls.offset
        if size and not controls.ascending:
            found = list(self.archive.find(dataclasses.replace(query, limit=size, offset=offset)))
            if len(found) < size and (found or offset == 0):
                return offset + len(found), found
            return self.archive.find(dataclasses.replace(query, limit=1)).count(), found
        total = self.archive.find(dataclasses.replace(query, limit=1)).count()
        if size == 0 or offset >= total:
            return total, []
        end = total - offset
        start = max(0, end - size)
        page = dataclasses.replace(query, limit=end - start, offset=start)
        return total, list(reversed(list(self.archive.find(page))))

    def _study_includes(
        self, studies: list[DicomJson], controls: Controls, bases: Bases
    ) -> list[Resource]:
        """``_include=ImagingStudy:subject|patient`` and ``:endpoint`` (search.html#include)."""
        included: list[Resource] = []
        if {"ImagingStudy:subject", "ImagingStudy:patient"} & set(controls.include):
            for key in dict.fromkeys(patient_key(ds) for ds in studies):
                query = Query(Level.PATIENT, key_terms(key), include_all=True, limit=None)
                for ds in self.archive.find(query):
                    found = patient(ds) if patient_key(ds) == key else None
                    if found is not None:
                        included.append(found)
        if "ImagingStudy:endpoint" in controls.include and studies:
            included += [e for e in (endpoint(i, bases) for i in STUDY_ENDPOINTS) if e]
        return included

    def _studies_of(self, keys: list[PatientKey]) -> list[Resource]:
        """``_revinclude=ImagingStudy:patient``: the studies of the page's patients."""
        studies: list[DicomJson] = []
        for key in dict.fromkeys(keys):
            query = Query(Level.STUDY, key_terms(key), include_all=True, limit=None)
            studies += [s for s in self.archive.find(query) if patient_key(s) == key]
        return imaging_studies(self.archive, studies)

    def _search_endpoints(
        self, params: Sequence[tuple[str, str]], bases: Bases, strict: bool
    ) -> Resource:
        """Endpoint search by ``_id`` only; the five Endpoints fit one page."""
        found = endpoints(bases)
        used: list[tuple[str, str]] = []
        for name, value in params:
            if name == "_id":
                found = [e for e in found if e["id"] in value.split(",")]
                used.append((name, value))
            elif name in ("_format", "_pretty"):
                used.append((name, value))
            elif strict:
                raise BadRequest(f"unknown search parameter {name!r} for Endpoint")
        return searchset(
            bases.fhir,
            "Endpoint",
            used,
            total=len(found),
            offset=0,
            count=len(found),
            matches=found,
        )


def _patients_terms(resources: list[Resource]) -> tuple[tuple[MatchTerm, ...], ...]:
    """The DICOM patients of some Patients, as groups of terms (one per issuer)."""
    by_issuer: dict[str, list[str]] = defaultdict(list)
    for resource in resources:
        keys = parse_patient_id(resource["id"])
        if keys:
            by_issuer[keys[-1].issuer].append(keys[-1].patient_id)
    return tuple(
        (any_of("PatientID", ids), single("IssuerOfPatientID", issuer))
        for issuer, ids in sorted(by_issuer.items())
    )


def _loaded(stored: StoredResource | None) -> Resource | None:
    return stored_resource(stored) if stored is not None else None
