"""The DICOM JSON → FHIR mapping, field by field (STANDARDS.md §1), validated with the models."""

from __future__ import annotations

from typing import Any

import pytest

from openvna.fhir.mapping import (
    imaging_study,
    instance_entry,
    instance_title,
    patient,
    patient_reference,
)
from openvna.fhir.values import date, date_time, human_name
from tests.fhir_check import validate

STUDY_UID = "1.2.826.0.1.3680043.8.498.1"
SERIES_UID = "1.2.826.0.1.3680043.8.498.2"
SOP_UID = "1.2.826.0.1.3680043.8.498.3"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def _e(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def _study(**extra: dict[str, Any]) -> dict[str, Any]:
    ds = {
        "0020000D": _e("UI", STUDY_UID),
        "00080020": _e("DA", "20110101"),
        "00080030": _e("TM", "110120"),
        "00080201": _e("SH", "+0300"),
        "00080050": _e("SH", "W12342398"),
        "00200010": _e("SH", "S1"),
        "00080090": _e("PN", {"Alphabetic": "WELBY^MARCUS^^DR"}),
        "00081030": _e("LO", "CT CHEST"),
        "00080061": _e("CS", "CT", "SR"),
        "00201206": _e("IS", 1),
        "00201208": _e("IS", 1),
        "00100010": _e("PN", {"Alphabetic": "DOE^JANE^Q^MS^III"}),
        "00100020": _e("LO", "MRN1"),
        "00100030": _e("DA", "19700228"),
        "00100040": _e("CS", "F"),
    }
    ds.update(extra)
    return ds


def _series() -> dict[str, Any]:
    return {
        "0020000E": _e("UI", SERIES_UID),
        "00200011": _e("IS", 3),
        "00080060": _e("CS", "CT"),
        "0008103E": _e("LO", "AXIAL"),
        "00201209": _e("IS", 1),
        "00180015": _e("CS", "CHEST"),
        "00200060": _e("CS", "L"),
        "00080021": _e("DA", "20110101"),
        "00080031": _e("TM", "1102"),
    }


def _instance() -> dict[str, Any]:
    return instance_entry(SOP_UID, CT_IMAGE, 7, {"00080008": _e("CS", "ORIGINAL", "PRIMARY")})


def _imaging_study(study: dict[str, Any] | None = None) -> dict[str, Any]:
    return imaging_study(
        study or _study(),
        [_series()],
        {SERIES_UID: [_instance()]},
        resource_id="W12342398",
        endpoints=("wado-rs",),
    )


def test_imaging_study_follows_the_r4_example_mapping():
    resource = _imaging_study()
    validate(resource)
    assert resource["id"] == "W12342398"
    assert resource["status"] == "available"
    uid, accession, study_id = resource["identifier"]
    assert uid == {"use": "official", "system": "urn:dicom:uid", "value": f"urn:oid:{STUDY_UID}"}
    assert accession["type"]["coding"][0]["code"] == "ACSN"
    assert accession["value"] == "W12342398"
    assert study_id == {"use": "secondary", "value": "S1"}
    # SR is not an acquisition modality (CID 29): only in series.modality.
    assert resource["modality"] == [
        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}
    ]
    assert resource["started"] == "2011-01-01T11:01:20+03:00"
    assert resource["subject"] == {"reference": "Patient/MRN1", "display": "MS JANE Q DOE III"}
    assert resource["referrer"] == {"display": "DR MARCUS WELBY"}
    assert resource["description"] == "CT CHEST"
    assert resource["endpoint"] == [{"reference": "Endpoint/wado-rs"}]
    assert (resource["numberOfSeries"], resource["numberOfInstances"]) == (1, 1)


def test_series_and_instances_carry_bare_uids_and_codings():
    (series,) = _imaging_study()["series"]
    assert series["uid"] == SERIES_UID
    assert series["number"] == 3
    assert series["modality"]["code"] == "CT"
    assert series["description"] == "AXIAL"
    assert series["numberOfInstances"] == 1
    assert series["bodySite"] == {"display": "CHEST"}
    assert series["laterality"]["code"] == "419161000"
    # The study's timezone offset applies to the series' date and time too.
    assert series["started"] == "2011-01-01T11:02:00+03:00"
    (instance,) = series["instance"]
    assert instance == {
        "uid": SOP_UID,
        "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{CT_IMAGE}"},
        "number": 7,
        "title": "ORIGINAL\\PRIMARY",
    }


def test_started_without_an_offset_is_the_date_alone():
    study = _study()
    del study["00080201"]
    resource = _imaging_study(study)
    validate(resource)
    assert resource["started"] == "2011-01-01"


def test_accession_issuer_becomes_the_identifier_system():
    issuer = {"00400032": _e("UT", "1.2.3.4"), "00400033": _e("CS", "ISO")}
    resource = _imaging_study(_study(**{"00080051": _e("SQ", issuer)}))
    validate(resource)
    assert resource["identifier"][1]["system"] == "urn:oid:1.2.3.4"


def test_patient_from_the_patient_module():
    resource = patient(_study())
    assert resource is not None
    validate(resource)
    assert resource["id"] == "MRN1"
    assert resource["identifier"] == [{"use": "usual", "value": "MRN1"}]
    (name,) = resource["name"]
    assert name["family"] == "DOE"
    assert name["given"] == ["JANE", "Q"]
    assert name["prefix"] == ["MS"] and name["suffix"] == ["III"]
    assert resource["gender"] == "female"
    assert resource["birthDate"] == "1970-02-28"


@pytest.mark.parametrize(("sex", "gender"), [("M", "male"), ("O", "other"), ("", "unknown")])
def test_gender(sex: str, gender: str):
    resource = patient(_study(**{"00100040": _e("CS", sex) if sex else _e("CS")}))
    assert resource is not None and resource["gender"] == gender


def test_patient_with_an_issuer_gets_an_encoded_id_and_a_system():
    resource = patient(_study(**{"00100021": _e("LO", "1.2.840.99")}))
    assert resource is not None
    validate(resource)
    assert resource["id"].startswith("p.")
    assert resource["identifier"][0]["system"] == "urn:oid:1.2.840.99"


def test_patient_with_a_local_issuer_names_it_as_the_assigner():
    resource = patient(_study(**{"00100021": _e("LO", "HOSPITAL A")}))
    assert resource is not None
    validate(resource)
    assert resource["identifier"][0]["assigner"] == {"display": "HOSPITAL A"}
    assert "system" not in resource["identifier"][0]


def test_a_patient_without_an_id_is_referenced_by_identifier():
    long_issuer = "X" * 64
    study = _study(**{"00100020": _e("LO", "Y" * 64), "00100021": _e("LO", long_issuer)})
    assert patient(study) is None
    reference = patient_reference(study)
    assert "reference" not in reference
    assert reference["identifier"]["value"] == "Y" * 64


@pytest.mark.parametrize(
    ("day", "time", "offset", "expected"),
    [
        ("20200314", "1230", "+0100", "2020-03-14T12:30:00+01:00"),
        ("20200314", "123001.25", "-0500", "2020-03-14T12:30:01.25-05:00"),
        ("20200314", "", "+0100", "2020-03-14"),
        ("20200314", "1230", "", "2020-03-14"),
        ("2020", "", "", None),
        ("20201340", "", "", None),
    ],
)
def test_date_time(day: str, time: str, offset: str, expected: str | None):
    assert date_time(day, time, offset) == expected


def test_dates_and_names_that_are_not_values():
    assert date("") is None
    assert date("00000101") is None
    assert human_name({"Alphabetic": ""}) is None
    assert human_name({"Ideographic": "x"}) is None


def test_instance_titles_in_their_order_of_preference():
    concept = {"00080104": _e("LO", "Chest X-ray report")}
    assert instance_title({"00700080": _e("CS", "LABEL"), "00420010": _e("ST", "x")}) == "LABEL"
    assert instance_title({"0040A043": _e("SQ", concept), "00420010": _e("ST", "Doc")}) == (
        "Chest X-ray report"
    )
    assert instance_title({"00420010": _e("ST", "Doc")}) == "Doc"
    assert instance_title({}) == ""
    assert "title" not in instance_entry(SOP_UID, CT_IMAGE, None, {})
