"""DICOM JSON → FHIR R4 (4.0.1) Patient and ImagingStudy, as pure functions over stored metadata.

Element by element as STANDARDS.md §1 sets out (FS-01…FS-19, PT-01…PT-04), after HL7's
``imagingstudy-mappings.html``. The functions build plain dicts (serialised by orjson on the hot
path); the tests validate what they build against the ``fhir.resources`` models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openvna.dicom.json import DicomJson
from openvna.fhir import values as v
from openvna.fhir.ids import PatientKey, patient_id

__all__ = [
    "ACSN",
    "DICOM_UID_SYSTEM",
    "SOP_CLASS_SYSTEM",
    "V2_0203",
    "identifier_system",
    "imaging_study",
    "instance_entry",
    "instance_title",
    "patient",
    "patient_key",
    "patient_reference",
]

Resource = dict[str, Any]

DICOM_UID_SYSTEM = "urn:dicom:uid"
SOP_CLASS_SYSTEM = "urn:ietf:rfc:3986"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACSN = {"coding": [{"system": V2_0203, "code": "ACSN"}]}
_GENDER = {"M": "male", "F": "female", "O": "other"}
# R4 ImagingStudy.modality is bound to CID 29 (acquisition modalities): the modalities of
# derived objects belong in series.modality only (STANDARDS.md FS-05).
_NOT_ACQUISITION = frozenset({"KO", "PR", "SR", "DOC", "SEG", "REG", "FID", "RWV", "PLAN"})
# R4 value set bodysite-laterality (SNOMED CT), from Laterality (0020,0060).
_LATERALITY = {
    "L": ("419161000", "Unilateral left"),
    "R": ("419465000", "Unilateral right"),
    "B": ("51440002", "Right and left"),
}


def patient_key(ds: DicomJson) -> PatientKey:
    """The index's key of the patient a dataset belongs to."""
    return PatientKey(v.text(ds, "00100020"), v.text(ds, "00100021"))


def identifier_system(issuer: str, qualifiers: Sequence[DicomJson] = ()) -> str | None:
    """The identifier system of an issuer (PT-01): the ISO OID of Issuer of Patient ID
    Qualifiers (0010,0024) > Universal Entity ID, an issuer that is itself an OID or a URI;
    None for a local name (it is then the identifier's ``assigner``)."""
    for item in qualifiers:
        universal = v.text(item, "00400032")
        if universal and v.text(item, "00400033") == "ISO":
            return f"urn:oid:{universal}"
    if issuer and all(part.isdigit() for part in issuer.split(".")):
        return f"urn:oid:{issuer}"
    if ":" in issuer and " " not in issuer:
        return issuer
    return None


def _identifier(value: str, issuer: str, qualifiers: Sequence[DicomJson]) -> Resource:
    identifier: Resource = {"use": "usual"}
    system = identifier_system(issuer, qualifiers)
    if system is not None:
        identifier["system"] = system
    identifier["value"] = value
    if issuer and system is None:
        identifier["assigner"] = {"display": issuer}
    return identifier


def patient_reference(ds: DicomJson) -> Resource:
    """``ImagingStudy.subject`` (1..1): a literal reference when the patient has an id, else a
    logical one by identifier (R4 references.html#logical)."""
    key = patient_key(ds)
    logical = patient_id(key)
    reference: Resource = {}
    if logical is not None:
        reference["reference"] = f"Patient/{logical}"
    else:
        reference["identifier"] = _identifier(key.patient_id, key.issuer, v.items(ds, "00100024"))
    name = v.human_name(v.first(ds, "00100010"))
    if name is not None and name["text"]:
        reference["display"] = name["text"]
    return reference


def patient(ds: DicomJson) -> Resource | None:
    """A Patient from the DICOM Patient module (PS3.3 C.7.1.1); None when it has no id."""
    key = patient_key(ds)
    logical = patient_id(key)
    if logical is None:
        return None
    resource: Resource = {"resourceType": "Patient", "id": logical}
    if key.patient_id:
        resource["identifier"] = [_identifier(key.patient_id, key.issuer, v.items(ds, "00100024"))]
    name = v.human_name(v.first(ds, "00100010"))
    if name is not None:
        resource["name"] = [name]
    resource["gender"] = _GENDER.get(v.text(ds, "00100040").upper(), "unknown")
    birth = v.date(v.text(ds, "00100030"))
    if birth is not None:
        resource["birthDate"] = birth
    return resource


def _study_identifiers(ds: DicomJson) -> list[Resource]:
    """FS-01…FS-03: the Study Instance UID (``urn:oid:`` in the value), the accession number
    (type ACSN; system or assigner from its issuer sequence) and the Study ID."""
    found: list[Resource] = [
        {
            "use": "official",
            "system": DICOM_UID_SYSTEM,
            "value": f"urn:oid:{v.text(ds, '0020000D')}",
        }
    ]
    accession = v.text(ds, "00080050")
    if accession:
        issuers = v.items(ds, "00080051")
        local = v.text(issuers[0], "00400031") if issuers else ""
        identifier = _identifier(accession, local, issuers)
        found.append({"use": "usual", "type": ACSN, **identifier})
    study_id = v.text(ds, "00200010")
    if study_id:
        found.append({"use": "secondary", "value": study_id})
    return found


def _dcm(code: str) -> Resource:
    return {"system": v.DCM, "code": code}


def _concepts(ds: DicomJson, tag: str) -> list[Resource]:
    codings = [v.code_of(item) for item in v.items(ds, tag)]
    return [{"coding": [c]} for c in codings if c is not None]


def _practitioner(ds: DicomJson, tag: str) -> list[Resource]:
    """Person names as display-only references (FS-09): openvna keeps no Practitioner."""
    found = []
    for value in v.values(ds, tag):
        name = v.human_name(value)
        if name is not None and name["text"]:
            found.append({"display": name["text"]})
    return found


def imaging_study(
    study: DicomJson,
    series: Sequence[DicomJson],
    instances: dict[str, list[Resource]],
    *,
    resource_id: str,
    endpoints: Sequence[str],
    based_on: Sequence[Resource] = (),
    last_updated: str | None = None,
) -> Resource:
    """An ImagingStudy (FS-01…FS-19) from the study's attributes (with ModalitiesInStudy and the
    PS3.4 C.3.4 counts), its series and each series' ``instance`` entries (``instance_entry``,
    keyed by Series Instance UID).
    ``endpoints`` are the Endpoint ids the study and its series point at, ``based_on`` the
    references to the orders it fulfils (FS-08), ``last_updated`` when the archive last changed
    the study (``meta.lastUpdated``, R4 resource.html#Meta: follows its instances and orders)."""
    references = [{"reference": f"Endpoint/{e}"} for e in endpoints]
    modalities = [m for m in v.values(study, "00080061") if m and m not in _NOT_ACQUISITION]
    tz = v.text(study, "00080201")
    referrer = _practitioner(study, "00080090")
    resource: Resource = {
        "resourceType": "ImagingStudy",
        "id": resource_id,
        "meta": {"lastUpdated": last_updated} if last_updated else None,
        "identifier": _study_identifiers(study),
        # FS-04: what the index lists has at least one stored instance.
        "status": "available",
        "modality": [_dcm(m) for m in modalities],
        "subject": patient_reference(study),
        "started": v.date_time(v.text(study, "00080020"), v.text(study, "00080030"), tz),
        "basedOn": list(based_on),
        "referrer": referrer[0] if referrer else None,
        "interpreter": _practitioner(study, "00081060"),
        "endpoint": references,
        "numberOfSeries": v.integer(study, "00201206"),
        "numberOfInstances": v.integer(study, "00201208"),
        "procedureCode": _concepts(study, "00081032"),
        "reasonCode": _concepts(study, "00401012"),
        "description": v.text(study, "00081030"),
        "series": [
            _series(s, instances.get(v.text(s, "0020000E"), []), tz, references) for s in series
        ],
    }
    # Absent and empty values are left out (R4 json.html: no nulls, no empty arrays).
    return {k: value for k, value in resource.items() if value not in (None, [], "")}


def _series(
    ds: DicomJson, instances: list[Resource], tz: str, endpoints: list[Resource]
) -> Resource:
    """FS-13…FS-16: bare UIDs (type id), the modality as a DCM Coding."""
    entry: Resource = {"uid": v.text(ds, "0020000E")}
    number = v.integer(ds, "00200011")
    if number is not None:
        entry["number"] = number
    entry["modality"] = _dcm(v.text(ds, "00080060") or "OT")
    description = v.text(ds, "0008103E")
    if description:
        entry["description"] = description
    count = v.integer(ds, "00201209")
    if count is not None:
        entry["numberOfInstances"] = count
    if endpoints:
        entry["endpoint"] = endpoints
    body_part = v.text(ds, "00180015")
    if body_part:
        entry["bodySite"] = {"display": body_part}
    laterality = _LATERALITY.get(v.text(ds, "00200060").upper())
    if laterality is not None:
        code, display = laterality
        entry["laterality"] = {"system": "http://snomed.info/sct", "code": code, "display": display}
    started = v.date_time(v.text(ds, "00080021"), v.text(ds, "00080031"), tz)
    if started is not None:
        entry["started"] = started
    performers = _practitioner(ds, "00081050")
    if performers:
        entry["performer"] = [{"actor": p} for p in performers]
    if instances:
        entry["instance"] = instances
    return entry


def instance_entry(
    sop_uid: str, sop_class_uid: str, number: int | None, title_sources: DicomJson
) -> Resource:
    """FS-17…FS-19: one ``series.instance``: the bare SOP Instance UID, the SOP class as a URI
    Coding (``urn:oid:``), the instance number, the title (``instance_title``). Built from the
    index's columns, as a 500-instance study needs it fast."""
    entry: Resource = {
        "uid": sop_uid,
        "sopClass": {"system": SOP_CLASS_SYSTEM, "code": f"urn:oid:{sop_class_uid}"},
    }
    if number is not None and number >= 0:
        entry["number"] = number
    title = instance_title(title_sources)
    if title:
        entry["title"] = title
    return entry


def instance_title(ds: DicomJson) -> str:
    """The content label, the concept name's meaning, the document title or the image type,
    the first present (FS-19)."""
    label = v.text(ds, "00700080")
    if label:
        return label
    for item in v.items(ds, "0040A043"):
        meaning = v.text(item, "00080104")
        if meaning:
            return meaning
    document = v.text(ds, "00420010")
    if document:
        return document
    image_type = [t for t in v.values(ds, "00080008") if isinstance(t, str) and t]
    return "\\".join(image_type)
