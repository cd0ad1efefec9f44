"""The demo catalogue: the seed exercises' exact identifiers, valid and unique UIDs."""

from __future__ import annotations

from openvna.demo.patients import (
    CATALOGUE,
    JOE_PA_SERIES_UID,
    JOE_PA_SOP_UID,
    JOE_STUDY_UID,
    THOMPSON_STUDY_UID,
    demo_uid,
)
from openvna.dicom.uid import is_valid_uid


def _study(uid: str):
    return next(study for study in CATALOGUE if study.uid == uid)


def test_all_uids_are_valid_and_unique():
    uids = []
    for study in CATALOGUE:
        uids += [study.uid, study.frame_of_reference_uid]
        for series in study.series:
            uids.append(study.series_uid(series))
            uids += [study.sop_uid(series, i) for i in range(series.count)]
    assert all(is_valid_uid(uid) for uid in uids)
    assert len(set(uids)) == len(uids)


def test_derived_uids_are_stable_and_uuid_based():
    assert demo_uid("a", "b") == demo_uid("a", "b")
    assert demo_uid("a", "b") != demo_uid("a/b", "c")
    assert demo_uid("x").startswith("2.25.")


def test_joe_study_reproduces_the_siim_exercise():
    joe = _study(JOE_STUDY_UID)
    assert joe.patient.name == "SIIM^Joe"
    assert joe.patient.patient_id == "siimjoe"
    assert joe.instance_count == 2
    pa = joe.series[0]
    assert joe.series_uid(pa) == JOE_PA_SERIES_UID
    assert joe.sop_uid(pa, 0) == JOE_PA_SOP_UID
    assert pa.transfer_syntax == "1.2.840.10008.1.2.4.50"


def test_andy_has_the_pet_ct_and_total_body_studies():
    andy = [study for study in CATALOGUE if study.patient.patient_id == "TCGA-50-5072"]
    assert {study.accession for study in andy} == {"a956893214499959", "a411079800582267"}
    assert all(study.patient.name == "SIIM^Andy" for study in andy)
    pet_ct = next(study for study in andy if study.accession == "a956893214499959")
    assert [series.modality for series in pet_ct.series] == ["CT", "PT"]


def test_thompson_study_is_the_quick_start_guide_one():
    study = _study(THOMPSON_STUDY_UID)
    patient = study.patient
    assert (patient.name, patient.patient_id, patient.birth_date, patient.sex) == (
        "THOMPSON^ALEX",
        "12345",
        "19670701",
        "M",
    )
    assert patient.charset == "ISO_IR 192"
    assert (study.accession, study.study_id, study.date, study.time) == (
        "11235813",
        "11235813",
        "20130409",
        "131600",
    )
    assert study.description == "Abdomen CT"
    assert study.referring == "SMITH^KAREN"
    assert len(study.series) == 4


def test_short_strings_fit_their_vrs():
    for study in CATALOGUE:
        assert len(study.accession) <= 16  # SH
        assert len(study.study_id) <= 16  # SH
        assert len(study.description) <= 64  # LO
        for series in study.series:
            assert len(series.description) <= 64  # LO
            assert len(series.body_part) <= 16  # CS
