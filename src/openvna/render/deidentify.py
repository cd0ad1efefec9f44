"""De-identification for WADO-URI ``anonymize=yes`` (PS3.18 §9.4.1.2.5): the Basic Application
Level Confidentiality Profile of PS3.15 Annex E, its commonest attributes.

Actions of PS3.15 Table E.1-1: D (a dummy value) for the patient's name and ID, Z (empty) for
Type 2 identifying attributes, X (removed) for the others, U (a new UID, the same for the same
original within this process so that instances of a study still group) for instance UIDs; all
private attributes go (E.3.10 is not applied). Patient Identity Removed YES and the method
(CID 7050 code 113100) record it (PS3.3 C.12.1.1.7).
"""

from __future__ import annotations

import hashlib
import io
import secrets
from typing import Final

from pydicom import Dataset, dcmread, dcmwrite
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence

__all__ = ["BASIC_PROFILE", "deidentify"]

BASIC_PROFILE: Final = "Basic Application Confidentiality Profile (PS3.15 E.1), openvna"
_DUMMY: Final = {"PatientName": "ANONYMOUS", "PatientID": "ANONYMOUS"}
_EMPTY: Final = frozenset(
    {
        "PatientBirthDate",
        "PatientSex",
        "ReferringPhysicianName",
        "StudyID",
        "AccessionNumber",
        "StudyDate",
        "StudyTime",
        "ContentCreatorName",
        "PatientOrientation",
    }
)
_REMOVED: Final = frozenset(
    {
        "PatientAge",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientBirthTime",
        "PatientBirthName",
        "PatientMotherBirthName",
        "OtherPatientIDs",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "PatientComments",
        "PatientWeight",
        "PatientSize",
        "EthnicGroup",
        "Occupation",
        "MedicalRecordLocator",
        "MilitaryRank",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "PhysiciansOfRecord",
        "PerformingPhysicianName",
        "NameOfPhysiciansReadingStudy",
        "OperatorsName",
        "StationName",
        "DeviceSerialNumber",
        "RequestAttributesSequence",
        "AdmittingDiagnosesDescription",
        "AdditionalPatientHistory",
        "SeriesDate",
        "SeriesTime",
        "AcquisitionDate",
        "AcquisitionTime",
        "AcquisitionDateTime",
        "ContentDate",
        "ContentTime",
        "InstanceCreationDate",
        "InstanceCreationTime",
        "IssuerOfPatientID",
        "ReferencedPatientSequence",
        "ReferencedStudySequence",
        "RequestingPhysician",
        "ScheduledPerformingPhysicianName",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
        "PerformedProcedureStepID",
        "ProtocolName",
        "StudyDescription",
        "SeriesDescription",
        "DerivationDescription",
        "ImageComments",
    }
)
_NEW_UID: Final = frozenset(
    {
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "MediaStorageSOPInstanceUID",
        "FrameOfReferenceUID",
        "ReferencedSOPInstanceUID",
        "ReferencedFrameOfReferenceUID",
        "RelatedFrameOfReferenceUID",
        "SynchronizationFrameOfReferenceUID",
        "IrradiationEventUID",
        "ConcatenationUID",
        "DimensionOrganizationUID",
        "UID",
    }
)
_KEY: Final = secrets.token_bytes(32)  # per process: new UIDs cannot be traced back


def _new_uid(original: str) -> str:
    """A 2.25 UID (PS3.5 B.2) derived from ``original`` with a secret key."""
    digest = hashlib.blake2b(original.encode(), key=_KEY, digest_size=16).digest()
    return f"2.25.{int.from_bytes(digest, 'big')}"


def deidentify(part10: bytes) -> bytes:
    """A de-identified copy of a Part 10 file (same transfer syntax, pixel data untouched)."""
    ds = dcmread(io.BytesIO(part10))
    _clean(ds)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = BASIC_PROFILE
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _clean(ds: Dataset) -> None:
    ds.remove_private_tags()
    for element in list(ds):
        keyword = element.keyword
        if keyword in _REMOVED:
            del ds[element.tag]
        elif keyword in _EMPTY:
            element.value = None
        elif keyword in _DUMMY:
            element.value = _DUMMY[keyword]
        elif keyword in _NEW_UID and element.VR == "UI":
            _replace_uids(element)
        elif element.VR == "SQ":
            for item in element.value:
                _clean(item)


def _replace_uids(element: DataElement) -> None:
    values = element.value
    if isinstance(values, str):
        element.value = _new_uid(values) if values else values
    elif values:
        element.value = [_new_uid(str(v)) for v in values]
