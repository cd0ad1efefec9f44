"""Archive.find: the one query path of every door (QIDO-RS, C-FIND, FHIR search), tested
against the service: levels from PATIENT to IMAGE, return keys chosen by the caller, results as
a stream that stops when the caller does, and a count."""

from __future__ import annotations

from typing import Any

import pytest

from openvna.archive import Archive, Origin
from openvna.dicom.matching import parse_term
from openvna.dicom.query import Level, Query, resolve_attribute
from openvna.index import core
from tests.factories import make_instance


def _term(keyword: str, value: str) -> Any:
    tag, name, vr = resolve_attribute(keyword)
    return parse_term(tag, name, vr, value)


def _keys(*keywords: str) -> tuple[int, ...]:
    return tuple(resolve_attribute(k)[0] for k in keywords)


def _value(ds: dict[str, Any], tag: str) -> Any:
    return ds[tag]["Value"][0]


@pytest.fixture
def filled(archive: Archive) -> Archive:
    """Two patients: DOE^JANE (two studies, one of them two series) and ROE^RICHARD."""
    jane = {"patient_name": "DOE^JANE", "patient_id": "P1"}
    first = make_instance(**jane, study_date="20240101", PatientSex="F")
    second = make_instance(**jane, study_uid=first.StudyInstanceUID, modality="MR")
    third = make_instance(**jane, study_date="20240301", PatientSex="F")
    richard = make_instance(patient_name="ROE^RICHARD", patient_id="P2", PatientSex="M")
    for ds in (first, second, third, richard):
        assert archive.store_dataset(ds, Origin.local()).ok
    return archive


def test_patient_level_gives_one_result_per_patient_with_its_counts(filled: Archive) -> None:
    keys = _keys("PatientName", "PatientID", "NumberOfPatientRelatedStudies", "PatientBirthTime")
    query = Query(Level.PATIENT, terms=(_term("PatientID", "P1"),), return_keys=keys)
    (jane,) = list(filled.find(query))
    assert _value(jane, "00100010") == {"Alphabetic": "DOE^JANE"}
    assert _value(jane, "00201200") == 2  # NumberOfPatientRelatedStudies
    assert jane["00100032"] == {"vr": "TM"}  # asked for, no value: present and empty
    assert "00100040" not in jane  # PatientSex was not asked for


def test_patient_level_matches_names_and_attributes_kept_with_the_studies(
    filled: Archive,
) -> None:
    keys = _keys("PatientID")
    by_name = Query(Level.PATIENT, terms=(_term("PatientName", "roe*"),), return_keys=keys)
    assert [_value(p, "00100020") for p in filled.find(by_name)] == ["P2"]
    by_sex = Query(Level.PATIENT, terms=(_term("PatientSex", "F"),), return_keys=keys)
    assert [_value(p, "00100020") for p in filled.find(by_sex)] == ["P1"]
    study_key = Query(Level.PATIENT, terms=(_term("StudyDate", "20240101"),), return_keys=keys)
    assert filled.find(study_key).unsupported == ["StudyDate"]


def test_the_caller_chooses_the_return_keys(filled: Archive) -> None:
    """C-FIND returns the identifier's keys, not QIDO-RS's required ones (PS3.4 C.4.1.2.3)."""
    query = Query(Level.STUDY, return_keys=_keys("StudyInstanceUID", "AccessionNumber"))
    for study in filled.find(query):
        assert set(study) == {"0020000D", "00080050"}
    assert "00081190" not in next(iter(filled.find(query)))  # RetrieveURL: QIDO-RS's own


def test_results_stream_page_by_page_and_stop_with_the_caller(
    filled: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "PAGE", 1)
    statements: list[int] = []
    page = core.read.page

    def counting(*args: Any, **kwargs: Any) -> Any:
        statements.append(1)
        return page(*args, **kwargs)

    monkeypatch.setattr(core.read, "page", counting)
    matches = filled.find(Query(Level.SERIES, limit=None, return_keys=_keys("SeriesInstanceUID")))
    stream = iter(matches)
    next(stream)
    next(stream)
    assert len(statements) == 2  # read as the caller goes: one series a statement here
    stream.close()  # C-CANCEL: nothing more is read
    assert len(statements) == 2
    assert len(list(matches)) == matches.count() == 4


def test_a_page_counts_what_lies_beyond_it(filled: Archive) -> None:
    query = Query(Level.STUDY, limit=2, offset=0, return_keys=_keys("StudyInstanceUID"))
    page = filled.find(query).page()
    assert (len(page.datasets), page.remaining) == (2, 1)
    last = filled.find(Query(Level.STUDY, limit=2, offset=2)).page()
    assert (len(last.datasets), last.remaining) == (1, 0)


def test_image_level_carries_the_asked_parent_attributes(filled: Archive) -> None:
    keys = _keys("SOPInstanceUID", "Modality", "PatientID")
    query = Query(Level.INSTANCE, terms=(_term("Modality", "MR"),), return_keys=keys)
    (image,) = list(filled.find(query))
    assert (_value(image, "00080060"), _value(image, "00100020")) == ("MR", "P1")
