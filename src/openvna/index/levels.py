"""Which attribute belongs to which level: the patient/study/series splits of an instance.

The lists follow the PS3.3 modules that hold one value per entity: Patient (C.7.1.1), General
Study (C.7.2.1) and Patient Study (C.7.2.2) for the study row; General Series (C.7.3.1), Frame of
Reference (C.7.4.1) and General Equipment (C.7.5.1) for the series row; everything else is
instance level. Also here: the attributes the index can match on (PS3.18 Table 10.6.1-5), so
QIDO-RS and C-FIND share them.
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword

from openvna.dicom.tags import tag_hex, vr_of

__all__ = [
    "COMPUTED",
    "MATCH_COLUMNS",
    "NESTED_MATCH_COLUMNS",
    "PATIENT_TAGS",
    "SERIES_TAGS",
    "STUDY_TAGS",
    "tag",
    "tag_hex",
    "vr_of",
]


def tag(keyword: str) -> int:
    """The tag of a dictionary keyword (KeyError for a misspelt one, at import time)."""
    value = tag_for_keyword(keyword)
    if value is None:
        raise KeyError(keyword)
    return value


def _keywords(text: str) -> tuple[int, ...]:
    return tuple(tag(k) for k in text.split())


def _tags(text: str) -> frozenset[int]:
    return frozenset(_keywords(text))


PATIENT_TAGS = _tags(
    """PatientName PatientID IssuerOfPatientID IssuerOfPatientIDQualifiersSequence TypeOfPatientID
    PatientBirthDate PatientBirthTime PatientBirthDateInAlternativeCalendar
    PatientDeathDateInAlternativeCalendar PatientAlternativeCalendar PatientSex
    ReferencedPatientPhotoSequence QualityControlSubject ReferencedPatientSequence
    OtherPatientIDsSequence OtherPatientNames EthnicGroup EthnicGroupCodeSequence PatientComments
    PatientSpeciesDescription PatientSpeciesCodeSequence PatientBreedDescription
    PatientBreedCodeSequence BreedRegistrationSequence StrainDescription StrainNomenclature
    StrainCodeSequence StrainAdditionalInformation StrainStockSequence GeneticModificationsSequence
    ResponsiblePerson ResponsiblePersonRole ResponsibleOrganization PatientIdentityRemoved
    DeidentificationMethod DeidentificationMethodCodeSequence
    SourcePatientGroupIdentificationSequence GroupOfPatientsIdentificationSequence"""
)

# General Study and Patient Study modules; TimezoneOffsetFromUTC (SOP Common) is a conditional
# return key at every level (PS3.18 Table 10.6.3-3) and is kept with the study.
STUDY_TAGS = PATIENT_TAGS | _tags(
    """StudyInstanceUID StudyDate StudyTime ReferringPhysicianName
    ReferringPhysicianIdentificationSequence ConsultingPhysicianName
    ConsultingPhysicianIdentificationSequence StudyID AccessionNumber
    IssuerOfAccessionNumberSequence StudyDescription PhysiciansOfRecord
    PhysiciansOfRecordIdentificationSequence NameOfPhysiciansReadingStudy
    PhysiciansReadingStudyIdentificationSequence RequestingServiceCodeSequence
    ReferencedStudySequence ProcedureCodeSequence ReasonForPerformedProcedureCodeSequence
    TimezoneOffsetFromUTC
    AdmittingDiagnosesDescription AdmittingDiagnosesCodeSequence PatientAge PatientSize
    PatientWeight PatientBodyMassIndex MeasuredAPDimension MeasuredLateralDimension
    PatientSizeCodeSequence MedicalAlerts Allergies SmokingStatus PregnancyStatus
    LastMenstrualDate PatientState Occupation AdditionalPatientHistory AdmissionID
    IssuerOfAdmissionIDSequence ServiceEpisodeID IssuerOfServiceEpisodeIDSequence
    ServiceEpisodeDescription PatientSexNeutered ReasonForVisit ReasonForVisitCodeSequence"""
)

SERIES_TAGS = _tags(
    """Modality SeriesInstanceUID SeriesNumber Laterality SeriesDate SeriesTime
    PerformingPhysicianName PerformingPhysicianIdentificationSequence ProtocolName
    SeriesDescription SeriesDescriptionCodeSequence OperatorsName OperatorIdentificationSequence
    ReferencedPerformedProcedureStepSequence RelatedSeriesSequence BodyPartExamined
    PatientPosition SmallestPixelValueInSeries LargestPixelValueInSeries RequestAttributesSequence
    PerformedProcedureStepID PerformedProcedureStepStartDate PerformedProcedureStepStartTime
    PerformedProcedureStepEndDate PerformedProcedureStepEndTime PerformedProcedureStepDescription
    PerformedProtocolCodeSequence CommentsOnThePerformedProcedureStep AnatomicalOrientationType
    FrameOfReferenceUID PositionReferenceIndicator
    Manufacturer InstitutionName InstitutionAddress StationName InstitutionalDepartmentName
    ManufacturerModelName DeviceSerialNumber SoftwareVersions"""
)

# Attributes computed by the archive rather than copied from an instance (PS3.4 C.3.4).
COMPUTED = _tags(
    """ModalitiesInStudy SOPClassesInStudy NumberOfStudyRelatedSeries NumberOfStudyRelatedInstances
    NumberOfSeriesRelatedInstances NumberOfPatientRelatedStudies NumberOfPatientRelatedSeries
    NumberOfPatientRelatedInstances InstanceAvailability RetrieveURL AvailableTransferSyntaxUID"""
)

# tag -> (level, column, kind): what the index matches in SQL. Kinds: "text" (case-sensitive),
# "pn" (upper-cased column, PS3.4 C.2.2.2.1 allows case-insensitive PN), "uid", "date", "time",
# "int", "modalities" (the study/modality side table).
MATCH_COLUMNS: dict[int, tuple[str, str, str]] = {
    tag("StudyInstanceUID"): ("STUDY", "study_uid", "uid"),
    tag("StudyDate"): ("STUDY", "study_date", "date"),
    tag("StudyTime"): ("STUDY", "study_time", "time"),
    tag("AccessionNumber"): ("STUDY", "accession_number", "text"),
    tag("ModalitiesInStudy"): ("STUDY", "modality", "modalities"),
    tag("ReferringPhysicianName"): ("STUDY", "referring_physician_upper", "pn"),
    tag("PatientName"): ("STUDY", "patient_name_upper", "pn"),
    tag("PatientID"): ("STUDY", "patient_id", "text"),
    tag("StudyID"): ("STUDY", "study_id", "text"),
    tag("PatientBirthDate"): ("STUDY", "patient_birth_date", "date"),
    tag("PatientSex"): ("STUDY", "patient_sex", "text"),
    tag("StudyDescription"): ("STUDY", "study_description", "text"),
    tag("SeriesInstanceUID"): ("SERIES", "series_uid", "uid"),
    tag("Modality"): ("SERIES", "modality", "text"),
    tag("SeriesNumber"): ("SERIES", "series_number", "int"),
    tag("SeriesDescription"): ("SERIES", "series_description", "text"),
    tag("PerformedProcedureStepStartDate"): ("SERIES", "pps_start_date", "date"),
    tag("PerformedProcedureStepStartTime"): ("SERIES", "pps_start_time", "time"),
    tag("BodyPartExamined"): ("SERIES", "body_part", "text"),
    tag("SOPInstanceUID"): ("INSTANCE", "sop_uid", "uid"),
    tag("SOPClassUID"): ("INSTANCE", "sop_class_uid", "uid"),
    tag("InstanceNumber"): ("INSTANCE", "instance_number", "int"),
    tag("Rows"): ("INSTANCE", "rows", "int"),
    tag("Columns"): ("INSTANCE", "columns", "int"),
    tag("BitsAllocated"): ("INSTANCE", "bits_allocated", "int"),
    tag("NumberOfFrames"): ("INSTANCE", "number_of_frames", "int"),
}

# (sequence, attribute) -> (level, column, kind): keys inside a sequence's first item that the
# index matches (PS3.18 Table 10.6.1-5 requires the first two at the series level); kind
# "reasons": a column of the study/reason side table, any item of the sequence (C.2.2.2.6).
NESTED_MATCH_COLUMNS: dict[tuple[int, int], tuple[str, str, str]] = {
    (tag("RequestAttributesSequence"), tag("ScheduledProcedureStepID")): (
        "SERIES",
        "requested_sps_id",
        "text",
    ),
    (tag("RequestAttributesSequence"), tag("RequestedProcedureID")): (
        "SERIES",
        "requested_procedure_id",
        "text",
    ),
    (tag("ReasonForPerformedProcedureCodeSequence"), tag("CodeValue")): (
        "STUDY",
        "code",
        "reasons",
    ),
    (tag("ReasonForPerformedProcedureCodeSequence"), tag("CodingSchemeDesignator")): (
        "STUDY",
        "scheme",
        "reasons",
    ),
}
