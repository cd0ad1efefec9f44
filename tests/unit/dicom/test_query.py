"""parse_qido: PS3.18 §8.3.4.1 query parameters to a Query value, with PS3.4 C.2.2.2 terms."""

from __future__ import annotations

import pytest

from openvna.dicom.matching import AnyOf, Range, Single, Universal, Wildcard
from openvna.dicom.query import Level, Query, parse_qido, qido_return_keys
from openvna.errors import InvalidQuery

PATIENT_NAME = 0x00100010
STUDY_DATE = 0x00080020


def only_term(params: list[tuple[str, str]], level: str = "STUDY") -> object:
    query = parse_qido(level, params)
    assert len(query.terms) == 1
    return query.terms[0]


def test_defaults() -> None:
    query = parse_qido("STUDY", [])
    expected = qido_return_keys(Level.STUDY, None, None)
    assert query == Query(
        level=Level.STUDY, return_keys=expected, combined_datetime=True, limit=1000, offset=0
    )
    assert query.include_all is False
    assert query.fuzzymatching is False


def test_keyword_and_hex_tag_name_the_same_attribute() -> None:
    by_keyword = only_term([("PatientName", "DOE")])
    by_tag = only_term([("00100010", "DOE")])
    assert by_keyword == by_tag == Single(PATIENT_NAME, "PatientName", "PN", "DOE")


def test_lowercase_hex_tag_is_accepted() -> None:
    assert only_term([("0020000d", "1.2.3")]) == Single(
        0x0020000D, "StudyInstanceUID", "UI", "1.2.3"
    )


@pytest.mark.parametrize("value", ["", "*"])
def test_empty_or_lone_star_is_universal(value: str) -> None:
    assert only_term([("PatientID", value)]) == Universal(0x00100020, "PatientID", "LO")


def test_uid_list_is_comma_separated() -> None:
    term = only_term([("StudyInstanceUID", "1.2.3, 1.2.4")])
    assert term == AnyOf(0x0020000D, "StudyInstanceUID", "UI", ("1.2.3", "1.2.4"))


def test_code_string_list() -> None:
    term = only_term([("ModalitiesInStudy", "CT,MR")])
    assert term == AnyOf(0x00080061, "ModalitiesInStudy", "CS", ("CT", "MR"))
    backslash = only_term([("ModalitiesInStudy", "CT\\MR")])
    assert isinstance(backslash, AnyOf)
    assert backslash.values == ("CT", "MR")


@pytest.mark.parametrize("value", ["SIIM*", "D?E", "*SON"])
def test_wildcards_in_text_vrs(value: str) -> None:
    assert only_term([("PatientName", value)]) == Wildcard(PATIENT_NAME, "PatientName", "PN", value)


def test_date_single_and_ranges() -> None:
    assert only_term([("StudyDate", "20130101")]) == Single(
        STUDY_DATE, "StudyDate", "DA", "20130101"
    )
    assert only_term([("StudyDate", "20130101-20131231")]) == Range(
        STUDY_DATE, "StudyDate", "DA", "20130101", "20131231"
    )
    assert only_term([("StudyDate", "-20131231")]) == Range(
        STUDY_DATE, "StudyDate", "DA", None, "20131231"
    )
    assert only_term([("StudyDate", "20130101-")]) == Range(
        STUDY_DATE, "StudyDate", "DA", "20130101", None
    )


def test_old_date_format_is_normalised() -> None:
    assert only_term([("StudyDate", "2013.01.02")]) == Single(
        STUDY_DATE, "StudyDate", "DA", "20130102"
    )


def test_times_match_by_meaning_with_fractions() -> None:
    assert only_term([("StudyTime", "2230")]) == Single(
        0x00080030, "StudyTime", "TM", "223000.000000"
    )
    term = only_term([("StudyTime", "0800-1200.5")])
    assert term == Range(0x00080030, "StudyTime", "TM", "080000.000000", "120000.500000")
    assert only_term([("StudyTime", "-13")]) == Range(
        0x00080030, "StudyTime", "TM", None, "130000.000000"
    )


def test_datetime_values() -> None:
    term = only_term([("AcquisitionDateTime", "20200101120000-20200102")])
    assert isinstance(term, Range)
    assert (term.low, term.high) == ("20200101120000", "20200102")
    single = only_term([("AcquisitionDateTime", "20200101120000.5+0100")])
    assert single == Single(0x0008002A, "AcquisitionDateTime", "DT", "20200101120000.5+0100")


@pytest.mark.parametrize(
    ("params", "attribute"),
    [
        ([("StudyDate", "2020-13-45")], "StudyDate"),
        ([("StudyDate", "20201345")], "StudyDate"),
        ([("StudyDate", "20200101-20190101")], "StudyDate"),
        ([("StudyDate", "2020*")], "StudyDate"),
        ([("StudyDate", "-")], "StudyDate"),
        ([("StudyTime", "2561")], "StudyTime"),
        ([("StudyInstanceUID", "1.2.abc")], "StudyInstanceUID"),
        ([("StudyInstanceUID", "1.2.3,01.2")], "StudyInstanceUID"),
        ([("SeriesNumber", "one")], "SeriesNumber"),
        ([("PatientWeight", "heavy")], "PatientWeight"),
        ([("limit", "-1")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("offset", "1.5")], "offset"),
        ([("offset", "9223372036854775808")], "offset"),
        ([("fuzzymatching", "maybe")], "fuzzymatching"),
        ([("NoSuchKeyword", "x")], "NoSuchKeyword"),
        ([("00091010", "x")], "00091010"),
        (
            [
                (
                    "OtherPatientIDsSequence.IssuerOfPatientIDQualifiersSequence.UniversalEntityID",
                    "x",
                )
            ],
            "OtherPatientIDsSequence.IssuerOfPatientIDQualifiersSequence.UniversalEntityID",
        ),
        ([("PatientID.PatientName", "x")], "PatientID.PatientName"),
        (
            [("includefield", "RequestAttributesSequence.RequestedProcedureID")],
            "RequestAttributesSequence.RequestedProcedureID",
        ),
        ([("ReferencedStudySequence", "x")], "ReferencedStudySequence"),
        ([("PatientID", "a"), ("00100020", "b")], "PatientID"),
        ([("limit", "1"), ("limit", "2")], "limit"),
        ([("includefield", "NotAKeyword")], "NotAKeyword"),
    ],
)
def test_malformed_queries_name_the_attribute(
    params: list[tuple[str, str]], attribute: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse_qido("STUDY", params)
    assert caught.value.attribute == attribute
    assert attribute in caught.value.message


def test_path_uids_are_validated() -> None:
    with pytest.raises(InvalidQuery, match="SeriesInstanceUID"):
        parse_qido("INSTANCE", [], study_uid="1.2", series_uid="x.y")
    query = parse_qido("INSTANCE", [], study_uid="1.2", series_uid="1.2.3")
    assert (query.study_uid, query.series_uid, query.level) == ("1.2", "1.2.3", Level.INSTANCE)


def test_includefield_repeated_comma_separated_and_all() -> None:
    query = parse_qido(
        "STUDY",
        [("includefield", "00081030,PatientAge"), ("includefield", "StudyDescription")],
    )
    assert query.includefields == (0x00081030, 0x00101010)
    assert query.include_all is False
    assert parse_qido("STUDY", [("includefield", "all")]).include_all is True


def test_paging_and_fuzzy_options() -> None:
    query = parse_qido("SERIES", [("limit", "5"), ("offset", "10"), ("fuzzymatching", "TRUE")])
    assert (query.limit, query.offset, query.fuzzymatching) == (5, 10, True)


def test_limit_is_capped_and_defaulted() -> None:
    assert parse_qido("STUDY", [("limit", "999999")], max_limit=50).limit == 50
    assert parse_qido("STUDY", [], default_limit=20).limit == 20


def test_request_parameters_are_ignored() -> None:
    query = parse_qido("STUDY", [("accept", "application/dicom+json"), ("charset", "utf-8")])
    assert query.terms == ()


def test_several_terms_keep_their_order() -> None:
    query = parse_qido("STUDY", [("PatientID", "P1"), ("StudyDate", "20200101")])
    assert [t.keyword for t in query.terms] == ["PatientID", "StudyDate"]


def test_attribute_in_a_sequence() -> None:
    by_keyword = only_term([("RequestAttributesSequence.ScheduledProcedureStepID", "SPS*")])
    by_tag = only_term([("00400275.00400009", "SPS*")])
    expected = Wildcard(
        0x00400009,
        "RequestAttributesSequence.ScheduledProcedureStepID",
        "SH",
        "SPS*",
        sequence=0x00400275,
    )
    assert by_keyword == by_tag == expected


def test_same_attribute_in_and_out_of_a_sequence() -> None:
    query = parse_qido("SERIES", [("PatientID", "1"), ("OtherPatientIDsSequence.PatientID", "2")])
    assert [(t.sequence, t.tag) for t in query.terms] == [
        (None, 0x00100020),
        (0x00101002, 0x00100020),
    ]
