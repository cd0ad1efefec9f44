"""Combined date-time matching in the index, on SQLite and PostgreSQL (PS3.4 C.2.2.2.5.4):
StudyDate=20200314-20200316 with StudyTime=120000-130000 is one range, from 2020-03-14 12:00
to 2020-03-16 13:00; without combination (C-FIND without extended negotiation) the date and the
time match apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from openvna.dicom.query import Level, parse_qido
from openvna.index import Index, InstanceRecord

# study UID -> (StudyDate, StudyTime); None leaves the attribute out, "" keeps it empty (Type 2).
STUDIES: dict[str, tuple[str | None, str | None]] = {
    "1.1": ("20200315", "080000"),  # inside the combined range, outside the time range
    "1.2": ("20200314", "110000"),  # the first day, before 12:00
    "1.3": ("20200314", "120000"),  # the very start
    "1.4": ("20200316", "130000"),  # the very end
    "1.5": ("20200316", "130001"),  # one second after it
    "1.6": ("20200315", None),  # a day inside, time unknown
    "1.7": ("20200314", ""),  # the first day, time unknown
    "1.8": ("20200317", "100000"),  # a later day
    "1.9": ("20200314", "120000.25"),  # a fraction after the start
    "1.10": ("20200316", "130000.5"),  # a fraction after the end
    "1.11": (None, "120000"),  # no date
    "1.12": ("20200320", None),  # a later day, time unknown
}
# Series of study 2.0 (which has no StudyDate): series UID -> PerformedProcedureStepStart
# Date and Time, the series level's pair.
SERIES: dict[str, tuple[str | None, str | None]] = {
    "2.1": ("20200314", "115959"),
    "2.2": ("20200315", "000000"),
    "2.3": ("20200316", "130000"),
    "2.4": (None, None),
}
CLOSED = [("StudyDate", "20200314-20200316"), ("StudyTime", "120000-130000")]
PPS_CLOSED = [
    ("PerformedProcedureStepStartDate", "20200314-20200316"),
    ("PerformedProcedureStepStartTime", "1200-1300"),
]


@pytest.fixture(scope="module")
def corpus(module_index: Index, make_record: Callable[..., InstanceRecord]) -> Index:
    for study, (date, time) in STUDIES.items():
        record = make_record(f"{study}.1.1", study, f"{study}.1", StudyDate=date, StudyTime=time)
        module_index.add_instance(record, replace=False)
    for series, (date, time) in SERIES.items():
        pps = {"PerformedProcedureStepStartDate": date, "PerformedProcedureStepStartTime": time}
        given = {keyword: value for keyword, value in pps.items() if value is not None}
        record = make_record(f"{series}.1", "2.0", series, StudyDate=None, **given)
        module_index.add_instance(record, replace=False)
    return module_index


def _found(
    index: Index, params: list[tuple[str, str]], level: str = "STUDY", combined: bool = True
) -> list[str]:
    query = dataclasses.replace(parse_qido(level, params), combined_datetime=combined)
    key = {Level.STUDY: "0020000D", Level.SERIES: "0020000E", Level.INSTANCE: "00080018"}
    uids = [ds[key[query.level]]["Value"][0] for ds in index.find(query)]
    return sorted(uids, key=lambda uid: [int(part) for part in uid.split(".")])


def test_the_issue_example_is_one_range(corpus: Index) -> None:
    """08:00 on the 15th is inside; 11:00 on the 14th and 13:00:01 on the 16th are not; both
    ends are included; a day inside matches without a time, a bound's day does not."""
    assert _found(corpus, CLOSED) == ["1.1", "1.3", "1.4", "1.6", "1.9"]


def test_without_combination_the_date_and_the_time_match_apart(corpus: Index) -> None:
    """C-FIND without extended negotiation of combined date-time matching (PS3.4 C.5.1.1):
    12:00 to 13:00 on each of the three days, so 08:00 on the 15th is out."""
    assert _found(corpus, CLOSED, combined=False) == ["1.3", "1.4", "1.9"]


def test_a_range_open_at_the_end_runs_from_its_start_on(corpus: Index) -> None:
    after = [("StudyDate", "20200316-"), ("StudyTime", "130000-")]
    assert _found(corpus, after) == ["1.4", "1.5", "1.8", "1.10", "1.12"]
    assert _found(corpus, after, combined=False) == ["1.4", "1.5", "1.10"]


def test_a_range_open_at_the_start_runs_up_to_its_end(corpus: Index) -> None:
    before = [("StudyDate", "-20200315"), ("StudyTime", "-0800")]
    assert _found(corpus, before) == ["1.1", "1.2", "1.3", "1.7", "1.9"]
    assert _found(corpus, before, combined=False) == ["1.1"]


def test_ranges_of_different_forms_match_apart(corpus: Index) -> None:
    mixed = [("StudyDate", "20200314-20200316"), ("StudyTime", "130000-")]
    assert _found(corpus, mixed) == ["1.4", "1.5", "1.10"]


def test_single_values_match_as_they_are(corpus: Index) -> None:
    """A single date with a time range is those times on that day; a date range with a single
    time is that time on each day; a single date and time is one moment."""
    assert _found(corpus, [("StudyDate", "20200314"), ("StudyTime", "1100-1200")]) == [
        "1.2",
        "1.3",
    ]
    assert _found(corpus, [("StudyDate", "20200314-20200316"), ("StudyTime", "13")]) == ["1.4"]
    assert _found(corpus, [("StudyDate", "20200316"), ("StudyTime", "130000.5")]) == ["1.10"]


def test_the_series_level_pair_is_one_range(corpus: Index) -> None:
    assert _found(corpus, PPS_CLOSED, "SERIES") == ["2.2", "2.3"]
    assert _found(corpus, PPS_CLOSED, "SERIES", combined=False) == ["2.3"]
    assert _found(corpus, PPS_CLOSED, "INSTANCE") == ["2.2.1", "2.3.1"]


def test_a_pair_the_level_cannot_match_is_reported_as_both_keys(corpus: Index) -> None:
    """Series keys in a study search are unsupported there (PS3.18 §8.3.4.1), paired or not."""
    found = corpus.find(parse_qido("STUDY", PPS_CLOSED))
    assert found.unsupported == [
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
    ]
    assert corpus.find(parse_qido("STUDY", CLOSED)).unsupported == []
