"""The level split of an instance's attributes and the column values taken from its JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pydicom.datadict import keyword_for_tag

from openvna.dicom.query import QIDO_RETURN_KEYS, parse_qido
from openvna.index import Index, InstanceRecord
from openvna.index.extract import extract, pn_upper
from openvna.index.levels import MATCH_COLUMNS, PATIENT_TAGS, SERIES_TAGS, STUDY_TAGS


def test_levels_do_not_overlap() -> None:
    assert PATIENT_TAGS <= STUDY_TAGS
    assert not STUDY_TAGS & SERIES_TAGS


def test_required_return_keys_of_standards_6_4() -> None:
    names = {level: [keyword_for_tag(t) for t in tags] for level, tags in QIDO_RETURN_KEYS.items()}
    assert "NumberOfStudyRelatedInstances" in names["STUDY"]
    assert "ModalitiesInStudy" in names["STUDY"]
    assert "RequestAttributesSequence" in names["SERIES"]
    assert names["INSTANCE"][-6:-2] == ["Rows", "Columns", "BitsAllocated", "NumberOfFrames"]


def test_match_columns_sit_at_their_level() -> None:
    for tag, (level, _column, kind) in MATCH_COLUMNS.items():
        if level == "STUDY" and kind != "modalities":
            assert tag in STUDY_TAGS, keyword_for_tag(tag)
        if level == "SERIES":
            assert tag in SERIES_TAGS, keyword_for_tag(tag)
        if level == "INSTANCE":
            assert tag not in STUDY_TAGS | SERIES_TAGS, keyword_for_tag(tag)


def test_person_names_are_upper_cased_alphabetic_without_trailing_carets() -> None:
    assert pn_upper({"Alphabetic": "Doe^John^^^", "Ideographic": "X"}) == "DOE^JOHN"
    assert pn_upper({"Ideographic": "山田^太郎"}) == ""
    assert pn_upper(None) == ""


def test_split_of_one_instance(make_record: Callable[..., InstanceRecord]) -> None:
    rows = extract(make_record("1.2.3.1.1", StudyTime="1015", StudyDate="20200102"))
    assert (rows.study_uid, rows.series_uid, rows.sop_uid) == ("1.2.3", "1.2.3.1", "1.2.3.1.1")
    assert rows.study["study_time"] == "101500.000000"
    assert rows.study["patient_name_upper"] == "DOE^JOHN"
    assert b'"00081030"' in rows.study["json"]
    assert b'"0008103E"' not in rows.study["json"]
    assert b'"0008103E"' in rows.series["json"]
    assert rows.instance["instance_number"] == 1


def test_old_date_format_is_stored_normalised(
    index: Index, make_record: Callable[..., InstanceRecord]
) -> None:
    record = make_record("1.2.3.1.1")
    metadata = {**record.metadata, "00080020": {"vr": "DA", "Value": ["2013.01.02"]}}
    index.add_instance(replace(record, metadata=metadata), replace=False)
    found = index.find(parse_qido("STUDY", [("StudyDate", "20130101-20130131")])).page().datasets
    assert len(found) == 1
    assert found[0]["00080020"]["Value"] == ["2013.01.02"]  # returned as stored
