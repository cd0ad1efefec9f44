"""Combined date-time matching in the index, on SQLite and PostgreSQL (PS3.4 C.2.2.2.5.1):
StudyDate=20200314-20200316 with StudyTime=120000-130000 is one range, from 2020-03-14 12:00
to 2020-03-16 13:00."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from openvna.dicom.query import parse_qido
from openvna.index import Index, InstanceRecord

# study UID -> (StudyDate, StudyTime)
MOMENTS = {
    "1.1": ("20200315", "080000"),  # inside the combined range, outside the time range
    "1.2": ("20200314", "110000"),  # the first day, before 12:00
    "1.3": ("20200314", "120000"),  # the very start
    "1.4": ("20200316", "130000"),  # the very end
    "1.5": ("20200316", "130001"),  # just after it
    "1.6": ("20200315", ""),  # inside, time unknown
    "1.7": ("20200314", ""),  # the first day, time unknown
    "1.8": ("20200317", "100000"),  # a later day
}
CLOSED = (("StudyDate", "20200314-20200316"), ("StudyTime", "120000-130000"))


@pytest.fixture(scope="module")
def corpus(module_index: Index, make_record: Callable[..., InstanceRecord]) -> Index:
    for study, (date, time) in MOMENTS.items():
        record = make_record(f"{study}.1.1", study, f"{study}.1", StudyDate=date, StudyTime=time)
        if not time:
            metadata = {k: v for k, v in record.metadata.items() if k != "00080030"}
            record = dataclasses.replace(record, metadata=metadata)
        module_index.add_instance(record, replace=False)
    return module_index


def _studies(index: Index, *params: tuple[str, str], combined: bool = True) -> list[str]:
    query = dataclasses.replace(parse_qido("STUDY", list(params)), combined_datetime=combined)
    return sorted(ds["0020000D"]["Value"][0] for ds in index.find(query))


def test_the_issue_example_is_one_range(corpus: Index) -> None:
    assert _studies(corpus, *CLOSED) == ["1.1", "1.3", "1.4", "1.6"]


def test_without_combination_date_and_time_match_apart(corpus: Index) -> None:
    """C-FIND without extended negotiation of combined date-time matching (PS3.4 C.5.1.1)."""
    assert _studies(corpus, *CLOSED, combined=False) == ["1.3", "1.4"]


def test_open_ranges_combine_too(corpus: Index) -> None:
    after = _studies(corpus, ("StudyDate", "20200316-"), ("StudyTime", "130000-"))
    assert after == ["1.4", "1.5", "1.8"]
    before = _studies(corpus, ("StudyDate", "-20200314"), ("StudyTime", "-115959"))
    assert before == ["1.2"]


def test_a_single_day_with_a_time_range_is_that_time_on_that_day(corpus: Index) -> None:
    assert _studies(corpus, ("StudyDate", "20200314"), ("StudyTime", "1000-1200")) == [
        "1.2",
        "1.3",
    ]


def test_the_combined_range_is_reported_as_supported(corpus: Index) -> None:
    query = parse_qido("STUDY", list(CLOSED))
    assert corpus.find(query).unsupported == []
