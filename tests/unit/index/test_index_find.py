"""Index.find: C.2.2.2 matching, PS3.18 §10.6.3 return attributes, paging, relational levels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydicom.dataset import Dataset

from openvna.dicom.query import parse_qido
from openvna.index import Index, InstanceRecord

# Four studies: (study, patient name, patient id, date, time, accession, description, series).
# Each series: (series uid, modality, number, instance count).
CORPUS: list[dict[str, Any]] = [
    {
        "study": "1.1",
        "PatientName": "THOMPSON^ALEX",
        "PatientID": "P100",
        "StudyDate": "20130315",
        "StudyTime": "101500",
        "AccessionNumber": "ACC1",
        "StudyDescription": "CT ABDOMEN",
        "ReferringPhysicianName": "SMITH^KAREN",
        "series": [("1.1.1", "CT", 1, 3), ("1.1.2", "SR", 2, 1)],
    },
    {
        "study": "1.2",
        "PatientName": "Thompson^Beth",
        "PatientID": "P200",
        "StudyDate": "20131231",
        "StudyTime": "2330",
        "AccessionNumber": "ACC_2",
        "StudyDescription": "MR BRAIN 100%",
        "ReferringPhysicianName": "JONES",
        "series": [("1.2.1", "MR", 1, 2)],
        "RequestAttributesSequence": [
            {"ScheduledProcedureStepID": "SPS2", "RequestedProcedureID": "RP2"}
        ],
    },
    {
        "study": "1.3",
        "PatientName": "THOMPSONSON^X",
        "PatientID": "P300",
        "StudyDate": "20200101",
        "StudyTime": "080000.25",
        "AccessionNumber": "B7",
        "StudyDescription": "CT CHEST",
        "ReferringPhysicianName": "SMITHERS^A",
        "series": [("1.3.1", "CT", 5, 1)],
    },
    {
        "study": "1.4",
        "PatientName": "SIIM^ANNE",
        "PatientID": "",
        "StudyDate": None,
        "StudyTime": None,
        "AccessionNumber": "",
        "StudyDescription": None,
        "ReferringPhysicianName": None,
        "series": [("1.4.1", "US", None, 1)],
    },
]


@pytest.fixture(scope="module")
def corpus(module_index: Index, make_record: Callable[..., InstanceRecord]) -> Index:
    """The corpus, stored once per module and engine; the tests only read it."""
    index = module_index
    for entry in CORPUS:
        study_attrs = {k: v for k, v in entry.items() if k not in ("study", "series")}
        items = study_attrs.pop("RequestAttributesSequence", None)
        if items:
            study_attrs["RequestAttributesSequence"] = [_item(**i) for i in items]
        for series_uid, modality, number, count in entry["series"]:
            for n in range(1, count + 1):
                record = make_record(
                    f"{series_uid}.{n}",
                    entry["study"],
                    series_uid,
                    Modality=modality,
                    SeriesNumber=number,
                    InstanceNumber=count + 1 - n,
                    PatientAge="045Y",
                    ImageType=["ORIGINAL", "PRIMARY"],
                    **study_attrs,
                )
                index.add_instance(record, replace=False)
    return index


def _item(**attributes: str) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def find(index: Index, level: str, *params: tuple[str, str], **uids: str) -> Any:
    return index.find(parse_qido(level, list(params), **uids)).page()


def uids(result: Any, key: str = "0020000D") -> list[str]:
    return [ds[key]["Value"][0] for ds in result.datasets]


def studies(index: Index, *params: tuple[str, str]) -> list[str]:
    return uids(find(index, "STUDY", *params))


def test_all_studies_newest_first_empty_dates_last(corpus: Index) -> None:
    assert studies(corpus) == ["1.3", "1.2", "1.1", "1.4"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("THOMPSON", ["1.2", "1.1"]),  # family name alone, any case (the seed 002 query)
        ("thompson", ["1.2", "1.1"]),
        ("THOMPSON^ALEX", ["1.1"]),
        ("thompson^beth", ["1.2"]),
        ("THOMPSON^ALEX^^^", ["1.1"]),
        ("ALEX", []),
        ("THOMP", []),
        ("THOMP*", ["1.3", "1.2", "1.1"]),
        ("*son^x", ["1.3"]),
        ("?IIM*", ["1.4"]),
        ("SIIM*", ["1.4"]),
        ("THOMPSON,SIIM^ANNE", []),
    ],
)
def test_patient_name(corpus: Index, value: str, expected: list[str]) -> None:
    assert studies(corpus, ("PatientName", value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ale", ["1.1"]),
        ("tho", ["1.3", "1.2", "1.1"]),
        ("thompson^b", ["1.2"]),
        ("an", ["1.4"]),
        ("zz", []),
    ],
)
def test_fuzzy_person_name_matches_components_by_prefix(
    corpus: Index, value: str, expected: list[str]
) -> None:
    found = studies(corpus, ("PatientName", value), ("fuzzymatching", "true"))
    assert found == expected


def test_referring_physician_is_a_person_name(corpus: Index) -> None:
    assert studies(corpus, ("ReferringPhysicianName", "smith")) == ["1.1"]
    assert studies(corpus, ("ReferringPhysicianName", "SMITH*")) == ["1.3", "1.1"]


def test_text_matching_is_case_sensitive(corpus: Index) -> None:
    assert studies(corpus, ("PatientID", "P100")) == ["1.1"]
    assert studies(corpus, ("PatientID", "p100")) == []
    assert studies(corpus, ("StudyDescription", "ct*")) == []
    assert studies(corpus, ("StudyDescription", "CT*")) == ["1.3", "1.1"]


def test_like_metacharacters_are_literal(corpus: Index) -> None:
    assert studies(corpus, ("AccessionNumber", "ACC_?")) == ["1.2"]
    assert studies(corpus, ("AccessionNumber", "ACC_*")) == ["1.2"]
    assert studies(corpus, ("AccessionNumber", "ACC?")) == ["1.1"]
    assert studies(corpus, ("StudyDescription", "*100%")) == ["1.2"]
    assert studies(corpus, ("StudyDescription", "*1_0*")) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20130315", ["1.1"]),
        ("20130101-20131231", ["1.2", "1.1"]),
        ("-20131231", ["1.2", "1.1"]),
        ("20131231-", ["1.3", "1.2"]),
        ("20210101-", []),
    ],
)
def test_study_date(corpus: Index, value: str, expected: list[str]) -> None:
    assert studies(corpus, ("StudyDate", value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("101500", ["1.1"]),
        ("1015", ["1.1"]),
        ("2330", ["1.2"]),
        ("1000-1100", ["1.1"]),
        ("0800-0800.25", ["1.3"]),
        ("0800-0800.2", []),
        ("-1200", ["1.3", "1.1"]),
        ("1200-", ["1.2"]),
    ],
)
def test_study_time_matches_by_meaning(corpus: Index, value: str, expected: list[str]) -> None:
    assert studies(corpus, ("StudyTime", value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("CT", ["1.3", "1.1"]),
        ("SR", ["1.1"]),
        ("CT,MR", ["1.3", "1.2", "1.1"]),
        ("M*", ["1.2"]),
        ("XA", []),
    ],
)
def test_modalities_in_study(corpus: Index, value: str, expected: list[str]) -> None:
    assert studies(corpus, ("ModalitiesInStudy", value)) == expected


def test_uid_list_and_other_study_keys(corpus: Index) -> None:
    assert studies(corpus, ("StudyInstanceUID", "1.1,1.3,9.9")) == ["1.3", "1.1"]
    assert studies(corpus, ("StudyID", "S1")) == ["1.3", "1.2", "1.1", "1.4"]
    assert studies(corpus, ("PatientBirthDate", "19700101")) == ["1.3", "1.2", "1.1", "1.4"]
    assert studies(corpus, ("PatientSex", "F")) == []


def test_terms_combine_with_and(corpus: Index) -> None:
    found = studies(corpus, ("PatientName", "THOMPSON"), ("ModalitiesInStudy", "CT"))
    assert found == ["1.1"]
    assert studies(corpus, ("PatientID", "P100"), ("StudyDate", "20200101-")) == []


def test_universal_terms_match_all_and_return_the_attribute(corpus: Index) -> None:
    result = find(corpus, "STUDY", ("PatientAge", ""), ("AccessionNumber", "*"))
    assert uids(result) == ["1.3", "1.2", "1.1", "1.4"]
    assert result.unsupported == []
    assert result.datasets[0]["00101010"] == {"vr": "AS", "Value": ["045Y"]}


def test_required_study_attributes_are_present_even_when_empty(corpus: Index) -> None:
    result = find(corpus, "STUDY", ("StudyInstanceUID", "1.4"))
    (ds,) = result.datasets
    assert ds["00080020"] == {"vr": "DA"}
    assert ds["00080030"] == {"vr": "TM"}
    assert ds["00080090"] == {"vr": "PN"}
    assert ds["00080201"] == {"vr": "SH"}
    assert ds["00100010"]["Value"] == [{"Alphabetic": "SIIM^ANNE"}]
    assert ds["00080056"] == {"vr": "CS", "Value": ["ONLINE"]}
    assert "00081190" not in ds  # RetrieveURL is the QIDO-RS door's (test_qido)
    assert ds["00080061"] == {"vr": "CS", "Value": ["US"]}
    assert "00081030" not in ds  # StudyDescription only when asked for
    assert "00101010" not in ds


def test_study_computed_attributes(corpus: Index) -> None:
    (ds,) = find(corpus, "STUDY", ("StudyInstanceUID", "1.1")).datasets
    assert ds["00080061"] == {"vr": "CS", "Value": ["CT", "SR"]}
    assert ds["00080062"] == {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]}
    assert ds["00201206"] == {"vr": "IS", "Value": [2]}
    assert ds["00201208"] == {"vr": "IS", "Value": [4]}


def test_seed_002_family_name_query_with_includefield(corpus: Index) -> None:
    result = find(corpus, "STUDY", ("00100010", "THOMPSON"), ("includefield", "00081030"))
    descriptions = [ds["00081030"]["Value"][0] for ds in result.datasets]
    assert descriptions == ["MR BRAIN 100%", "CT ABDOMEN"]


def test_includefield_all_and_patient_counts(corpus: Index) -> None:
    (ds,) = find(corpus, "STUDY", ("StudyInstanceUID", "1.1"), ("includefield", "all")).datasets
    assert ds["00101010"] == {"vr": "AS", "Value": ["045Y"]}
    assert ds["00081030"]["Value"] == ["CT ABDOMEN"]
    assert ds["00201200"] == {"vr": "IS", "Value": [1]}
    assert "00080060" not in ds  # a series attribute is not returned at the study level
    (asked,) = find(
        corpus,
        "STUDY",
        ("StudyInstanceUID", "1.1"),
        ("includefield", "NumberOfPatientRelatedStudies,NumberOfPatientRelatedInstances"),
    ).datasets
    assert asked["00201200"] == {"vr": "IS", "Value": [1]}
    assert asked["00201204"] == {"vr": "IS", "Value": [4]}
    assert "00201202" not in asked


def test_unsupported_keys_are_ignored_reported_and_returned(corpus: Index) -> None:
    result = find(corpus, "STUDY", ("PatientAge", "099Y"), ("Modality", "MR"))
    assert result.unsupported == ["PatientAge", "Modality"]
    assert len(result.datasets) == 4
    assert result.datasets[0]["00101010"]["Value"] == ["045Y"]
    assert "00080060" not in result.datasets[0]


@pytest.mark.parametrize(
    ("limit", "offset", "expected", "remaining"),
    [
        (2, 0, ["1.3", "1.2"], 2),
        (2, 2, ["1.1", "1.4"], 0),
        (2, 3, ["1.4"], 0),
        (3, 0, ["1.3", "1.2", "1.1"], 1),
        (4, 0, ["1.3", "1.2", "1.1", "1.4"], 0),
        (0, 0, [], 4),
        (0, 1, [], 3),
        (5, 9, [], 0),
    ],
)
def test_limit_offset_remaining(
    corpus: Index, limit: int, offset: int, expected: list[str], remaining: int
) -> None:
    result = find(corpus, "STUDY", ("limit", str(limit)), ("offset", str(offset)))
    assert (uids(result), result.remaining) == (expected, remaining)


def test_paging_with_a_modality_join(corpus: Index) -> None:
    first = find(corpus, "STUDY", ("ModalitiesInStudy", "CT"), ("limit", "1"))
    second = find(corpus, "STUDY", ("ModalitiesInStudy", "CT"), ("limit", "1"), ("offset", "1"))
    assert (uids(first), first.remaining) == (["1.3"], 1)
    assert (uids(second), second.remaining) == (["1.1"], 0)


def test_series_of_a_study(corpus: Index) -> None:
    result = find(corpus, "SERIES", study_uid="1.1")
    assert uids(result, "0020000E") == ["1.1.1", "1.1.2"]
    first = result.datasets[0]
    assert first["00080060"]["Value"] == ["CT"]
    assert first["00201209"] == {"vr": "IS", "Value": [3]}
    assert first["0020000D"]["Value"] == ["1.1"]
    assert first["00400244"] == {"vr": "DA"}
    assert first["00400275"] == {"vr": "SQ"}
    assert "00100010" not in first  # hierarchical: no study attributes unless asked


def test_series_matching(corpus: Index) -> None:
    assert uids(find(corpus, "SERIES", ("Modality", "CT")), "0020000E") == ["1.1.1", "1.3.1"]
    assert uids(find(corpus, "SERIES", ("SeriesNumber", "2")), "0020000E") == ["1.1.2"]
    assert uids(find(corpus, "SERIES", ("SeriesDescription", "AX*")), "0020000E") == [
        "1.1.1",
        "1.1.2",
        "1.2.1",
        "1.3.1",
        "1.4.1",
    ]
    only = find(corpus, "SERIES", ("SeriesInstanceUID", "1.2.1,1.4.1"))
    assert uids(only, "0020000E") == ["1.2.1", "1.4.1"]


def test_relational_series_carry_and_match_study_attributes(corpus: Index) -> None:
    result = find(corpus, "SERIES", ("PatientID", "P100"), ("Modality", "SR"))
    (ds,) = result.datasets
    assert ds["0020000E"]["Value"] == ["1.1.2"]
    assert ds["00100010"]["Value"] == [{"Alphabetic": "THOMPSON^ALEX"}]
    assert ds["00201206"] == {"vr": "IS", "Value": [2]}


def test_instances_of_a_series_by_instance_number(corpus: Index) -> None:
    result = find(corpus, "INSTANCE", study_uid="1.1", series_uid="1.1.1")
    assert uids(result, "00080018") == ["1.1.1.3", "1.1.1.2", "1.1.1.1"]
    ds = result.datasets[0]
    assert ds["00200013"] == {"vr": "IS", "Value": [1]}
    assert ds["00280010"] == {"vr": "US", "Value": [4]}
    assert ds["00280100"] == {"vr": "US", "Value": [16]}
    assert ds["00280008"] == {"vr": "IS"}
    assert ds["00080056"]["Value"] == ["ONLINE"]
    assert "00080060" not in ds  # series attributes only for relational queries


def test_instance_matching(corpus: Index) -> None:
    assert uids(find(corpus, "INSTANCE", ("InstanceNumber", "2")), "00080018") == [
        "1.1.1.2",
        "1.2.1.1",
    ]
    found = find(corpus, "INSTANCE", ("SOPInstanceUID", "1.3.1.1,1.4.1.1"))
    assert uids(found, "00080018") == ["1.3.1.1", "1.4.1.1"]
    by_class = find(corpus, "INSTANCE", ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.4"))
    assert by_class.datasets == []


def test_study_instances_carry_series_attributes(corpus: Index) -> None:
    result = find(corpus, "INSTANCE", study_uid="1.1")
    assert len(result.datasets) == 4
    last = result.datasets[-1]
    assert last["0020000E"]["Value"] == ["1.1.2"]
    assert last["00080060"]["Value"] == ["SR"]
    assert "00100010" not in last


def test_relational_instances_carry_study_and_series_attributes(corpus: Index) -> None:
    result = find(corpus, "INSTANCE", ("PatientName", "siim"), ("includefield", "ImageType"))
    (ds,) = result.datasets
    assert ds["00100010"]["Value"] == [{"Alphabetic": "SIIM^ANNE"}]
    assert ds["00080060"]["Value"] == ["US"]
    assert ds["00080008"] == {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY"]}
    assert ds["00201208"] == {"vr": "IS", "Value": [1]}


def test_instance_includefield_all(corpus: Index) -> None:
    result = find(corpus, "INSTANCE", ("includefield", "all"), study_uid="1.2", series_uid="1.2.1")
    ds = result.datasets[0]
    assert ds["00080008"]["Value"] == ["ORIGINAL", "PRIMARY"]
    assert ds["00083002"]["Value"] == ["1.2.840.10008.1.2.1"]
    assert "00100010" not in ds


def test_instance_paging(corpus: Index) -> None:
    pages = [
        find(corpus, "INSTANCE", ("limit", "3"), ("offset", str(offset))) for offset in (0, 3, 6)
    ]
    seen = [uid for page in pages for uid in uids(page, "00080018")]
    assert len(seen) == len(set(seen)) == 8
    assert [p.remaining for p in pages] == [5, 2, 0]


def test_lower_level_key_at_study_level_is_unsupported(corpus: Index) -> None:
    result = find(corpus, "STUDY", ("SOPInstanceUID", "1.1.1.1"))
    assert result.unsupported == ["SOPInstanceUID"]
    assert len(result.datasets) == 4


def test_empty_index(index: Index) -> None:
    result = find(index, "STUDY")
    assert (result.datasets, result.remaining, result.unsupported) == ([], 0, [])


def test_request_attributes_in_a_sequence(corpus: Index) -> None:
    sps = find(corpus, "SERIES", ("RequestAttributesSequence.ScheduledProcedureStepID", "SPS2"))
    assert uids(sps, "0020000E") == ["1.2.1"]
    item = sps.datasets[0]["00400275"]["Value"][0]
    assert item["00401001"] == {"vr": "SH", "Value": ["RP2"]}
    by_tag = find(corpus, "SERIES", ("00400275.00401001", "RP*"))
    assert uids(by_tag, "0020000E") == ["1.2.1"]
    assert find(corpus, "SERIES", ("00400275.00401001", "RP3")).datasets == []


def test_other_sequence_keys_are_unsupported(corpus: Index) -> None:
    result = find(corpus, "STUDY", ("OtherPatientIDsSequence.PatientID", "X"))
    assert result.unsupported == ["OtherPatientIDsSequence.PatientID"]
    assert len(result.datasets) == 4
