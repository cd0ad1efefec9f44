"""ImagingStudy resources read from the index through the archive's find service: the studies'
rows, their series and their instances, three searches for a whole page of studies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from openvna.archive import Archive
from openvna.archive.listing import ListedSeries, study_listing
from openvna.dicom.json import DicomJson
from openvna.dicom.query import Level, Query
from openvna.dicom.uid import is_valid_uid
from openvna.fhir import values as v
from openvna.fhir.ids import is_fhir_id, study_id
from openvna.fhir.mapping import imaging_study, instance_entry
from openvna.fhir.terms import single, tag_of
from openvna.fhir.titles import title_sources

__all__ = ["STUDY_ENDPOINTS", "find_study_uid", "imaging_studies"]

# The Endpoint ids every ImagingStudy and its series point at: WADO-RS, the DICOMweb root.
STUDY_ENDPOINTS = ("wado-rs",)
_STUDY_UID, _SERIES_UID, _ACCESSION = "0020000D", "0020000E", "00080050"


def find_study_uid(archive: Archive, resource_id: str) -> str | None:
    """The Study Instance UID an ImagingStudy id stands for (``ids`` module docstring): the
    study with that UID, else the one study with that accession number."""
    if not is_fhir_id(resource_id):
        return None
    if is_valid_uid(resource_id):
        query = Query(Level.STUDY, (single("StudyInstanceUID", resource_id),), limit=1)
        if any(True for _ in archive.find(query)):
            return resource_id
    query = Query(
        Level.STUDY,
        (single("AccessionNumber", resource_id),),
        return_keys=(tag_of("StudyInstanceUID"),),
        limit=2,
    )
    found = [v.text(ds, _STUDY_UID) for ds in archive.find(query)]
    return found[0] if len(found) == 1 else None


def imaging_studies(
    archive: Archive, studies: Sequence[DicomJson], *, with_instances: bool = True
) -> list[dict[str, Any]]:
    """The ImagingStudy of each study dataset (a STUDY-level find with ``include_all``), in
    the same order, with its series and (unless ``with_instances`` is False) their instances,
    ``basedOn`` the ServiceRequests written back with its accession number (FS-08), and
    ``meta.lastUpdated`` when the study last changed: one read of the index for the whole page
    (``archive.listing``)."""
    if not studies:
        return []
    uids = [v.text(ds, _STUDY_UID) for ds in studies]
    accessions = sorted({a for a in (v.text(ds, _ACCESSION) for ds in studies) if a})
    listing = study_listing(
        archive.index,
        uids,
        instances=with_instances,
        accessions=accessions,
        linked_type="ServiceRequest",
        link_name="accession",
    )
    series_of: dict[str, list[DicomJson]] = defaultdict(list)
    for listed in listing.series:
        series_of[listed.study_uid].append(_series_attributes(listed))
    instances_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in listing.instances:
        entry = instance_entry(
            i.sop_uid, i.sop_class_uid, i.instance_number, title_sources(i.metadata)
        )
        instances_of[i.series_uid].append(entry)
    requests: dict[str, list[dict[str, str]]] = defaultdict(list)
    for accession, request_id in listing.links:
        requests[accession].append({"reference": f"ServiceRequest/{request_id}"})
    found = []
    for uid, ds in zip(uids, studies, strict=True):
        accession = v.text(ds, _ACCESSION)
        shared = listing.accession_counts.get(accession, 0) > 1
        resource = imaging_study(
            ds,
            series_of[uid],
            instances_of,
            resource_id=study_id(uid, accession, shared),
            endpoints=STUDY_ENDPOINTS,
            based_on=requests.get(accession, []),
            last_updated=listing.changed.get(uid),
        )
        found.append(resource)
    return found


def _series_attributes(listed: ListedSeries) -> DicomJson:
    """A series' stored attributes and its PS3.4 C.3.4 count."""
    attributes: DicomJson = orjson.loads(listed.json)
    attributes["00201209"] = {"vr": "IS", "Value": [listed.num_instances]}
    return attributes
