"""Which date and time terms combine into one date-time range (PS3.4 C.2.2.2.5.4)."""

from __future__ import annotations

from openvna.dicom.matching import MatchTerm, combine_date_time, parse_term
from openvna.dicom.query import parse_qido

SEQUENCE = 0x00400100  # ScheduledProcedureStepSequence


def _combine(*params: tuple[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    found, rest = combine_date_time(parse_qido("STUDY", list(params)).terms)
    return [(r.date.keyword, r.time.keyword) for r in found], [t.keyword for t in rest]


def test_a_closed_date_range_and_a_closed_time_range_are_one_range() -> None:
    terms = parse_qido("STUDY", [("StudyDate", "20200314-20200316"), ("StudyTime", "1200-1300")])
    [found], rest = combine_date_time(terms.terms)
    assert rest == []
    assert (found.low, found.high) == (
        ("20200314", "120000.000000"),
        ("20200316", "130000.000000"),
    )


def test_open_ranges_of_the_same_form_combine() -> None:
    found, _ = combine_date_time(
        parse_qido("STUDY", [("StudyDate", "20200314-"), ("StudyTime", "120000-")]).terms
    )
    assert [(r.low, r.high) for r in found] == [(("20200314", "120000.000000"), None)]
    found, _ = combine_date_time(
        parse_qido("STUDY", [("StudyDate", "-20200316"), ("StudyTime", "-13")]).terms
    )
    assert [(r.low, r.high) for r in found] == [(None, ("20200316", "130000.000000"))]


def test_the_pair_combines_in_any_order_and_other_terms_stay() -> None:
    combined = _combine(
        ("PatientID", "P1"), ("StudyTime", "1200-1300"), ("StudyDate", "20200314-20200316")
    )
    assert combined == ([("StudyDate", "StudyTime")], ["PatientID"])


def test_series_level_pairs_combine() -> None:
    combined = _combine(
        ("PerformedProcedureStepStartDate", "20200314-"),
        ("PerformedProcedureStepStartTime", "0800-"),
        ("StudyDate", "20200101-20201231"),
    )
    pair = ("PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime")
    assert combined == ([pair], ["StudyDate"])


def test_ranges_of_different_forms_match_apart() -> None:
    assert _combine(("StudyDate", "20200314-20200316"), ("StudyTime", "1200-")) == (
        [],
        ["StudyDate", "StudyTime"],
    )
    assert _combine(("StudyDate", "20200314-"), ("StudyTime", "-1300")) == (
        [],
        ["StudyDate", "StudyTime"],
    )


def test_single_values_are_not_range_matching_and_match_apart() -> None:
    single_day = _combine(("StudyDate", "20200314"), ("StudyTime", "1200-1300"))
    assert single_day == ([], ["StudyDate", "StudyTime"])
    single_time = _combine(("StudyDate", "20200314-20200316"), ("StudyTime", "1200"))
    assert single_time == ([], ["StudyDate", "StudyTime"])
    moment = _combine(("StudyDate", "20200314"), ("StudyTime", "1200"))
    assert moment == ([], ["StudyDate", "StudyTime"])


def test_a_range_without_its_partner_or_with_another_moment_stays_alone() -> None:
    assert _combine(("StudyDate", "20200314-20200316")) == ([], ["StudyDate"])
    other_moment = _combine(("StudyDate", "20200314-20200316"), ("SeriesTime", "1200-1300"))
    assert other_moment == ([], ["StudyDate", "SeriesTime"])


def test_keys_combine_within_one_sequence_item_only() -> None:
    def sps(keyword: str, tag: int, vr: str, value: str, sequence: int | None) -> MatchTerm:
        return parse_term(tag, keyword, vr, value, sequence=sequence)

    date = sps("ScheduledProcedureStepStartDate", 0x00400002, "DA", "20200314-", SEQUENCE)
    time = sps("ScheduledProcedureStepStartTime", 0x00400003, "TM", "0800-", SEQUENCE)
    found, rest = combine_date_time((date, time))
    assert [(r.date, r.time) for r in found] == [(date, time)] and rest == []
    top_level_time = sps("ScheduledProcedureStepStartTime", 0x00400003, "TM", "0800-", None)
    found, rest = combine_date_time((date, top_level_time))
    assert found == [] and rest == [date, top_level_time]


def test_the_bounds_are_in_normal_form() -> None:
    """``1300`` is 13:00:00.000000, as in TM matching: the string order is the time order."""
    [found], _ = combine_date_time(
        parse_qido("STUDY", [("StudyDate", "2020.03.14-"), ("StudyTime", "12:30-")]).terms
    )
    assert found.low == ("20200314", "123000.000000")
