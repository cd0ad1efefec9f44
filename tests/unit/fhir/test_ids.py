"""Resource ids: stable, valid FHIR ids, reversible (fhir/ids.py)."""

from __future__ import annotations

import pytest

from openvna.fhir.ids import PatientKey, is_fhir_id, parse_patient_id, patient_id, study_id


@pytest.mark.parametrize(
    "key",
    [
        PatientKey("siimjoe"),
        PatientKey("MRN 1"),
        PatientKey("12345", "HOSPITAL_A"),
        PatientKey("A^B", "1.2.3"),
        PatientKey("é", ""),
    ],
)
def test_patient_ids_are_valid_and_lead_back_to_the_patient(key: PatientKey):
    ident = patient_id(key)
    assert ident is not None and is_fhir_id(ident)
    assert key in parse_patient_id(ident)
    assert patient_id(key) == ident  # deterministic


def test_a_plain_patient_id_is_its_own_id():
    assert patient_id(PatientKey("siimjoe")) == "siimjoe"
    assert parse_patient_id("siimjoe") == [PatientKey("siimjoe")]


def test_a_pair_too_long_has_no_id():
    assert patient_id(PatientKey("x" * 64, "y" * 64)) is None


@pytest.mark.parametrize("text", ["", "a b", "x" * 65, "p.!!"])
def test_invalid_ids_stand_for_nobody(text: str):
    assert parse_patient_id(text) == [] or parse_patient_id(text) == [PatientKey(text)]
    if not is_fhir_id(text):
        assert parse_patient_id(text) == []


def test_study_id_prefers_an_unshared_accession():
    assert study_id("1.2.3", "a257132503242682", shared=False) == "a257132503242682"
    assert study_id("1.2.3", "a257132503242682", shared=True) == "1.2.3"
    assert study_id("1.2.3", "", shared=False) == "1.2.3"
    assert study_id("1.2.3", "A 1", shared=False) == "1.2.3"
