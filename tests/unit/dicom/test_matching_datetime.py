"""Which date and time terms pair into one date-time range (PS3.4 C.2.2.2.5.1)."""

from __future__ import annotations

from openvna.dicom.matching import date_time_pairs
from openvna.dicom.query import parse_qido


def _pairs(*params: tuple[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    pairs, rest = date_time_pairs(parse_qido("STUDY", list(params)).terms)
    return [(d.keyword, t.keyword) for d, t in pairs], [t.keyword for t in rest]


def test_a_date_range_and_its_time_range_of_the_same_form_pair() -> None:
    closed = _pairs(("StudyDate", "20200314-20200316"), ("StudyTime", "120000-130000"))
    assert closed == ([("StudyDate", "StudyTime")], [])
    assert _pairs(("StudyDate", "20200314-"), ("StudyTime", "1200-"))[0]
    assert _pairs(("StudyDate", "-20200316"), ("StudyTime", "-1300"))[0]


def test_other_terms_keep_their_separate_meaning() -> None:
    mixed = _pairs(("StudyDate", "20200314-20200316"), ("StudyTime", "1200-"))
    assert mixed == ([], ["StudyDate", "StudyTime"])
    single_day = _pairs(("StudyDate", "20200314"), ("StudyTime", "1200-1300"))
    assert single_day == ([], ["StudyDate", "StudyTime"])
    alone = _pairs(("StudyDate", "20200314-20200316"), ("PatientID", "P1"))
    assert alone == ([], ["StudyDate", "PatientID"])
    other_moment = _pairs(("StudyDate", "20200314-20200316"), ("SeriesTime", "1200-1300"))
    assert other_moment == ([], ["StudyDate", "SeriesTime"])
