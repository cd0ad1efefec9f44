"""FHIR search values as DICOM ranges (R4 search.html#prefix)."""

from __future__ import annotations

import datetime as dt

import pytest

from openvna.dicom.query import Changed
from openvna.errors import BadRequest
from openvna.fhir.params import date_bounds, instant_bounds, reference_id, split_values, token

DA, TM = 0x00080020, 0x00080030


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("2020", "20200101", "20201231"),
        ("2020-02", "20200201", "20200229"),
        ("eq2020-03-14", "20200314", "20200314"),
        ("ge2020-03-14", "20200314", None),
        ("le2020-03", None, "20200331"),
        ("gt2020-03-14", "20200315", None),
        ("sa2020", "20210101", None),
        ("lt2020-03-14", None, "20200313"),
        ("eb2020-01", None, "20191231"),
        ("0999", "09990101", "09991231"),
    ],
)
def test_dates_become_day_ranges(value: str, low: str | None, high: str | None):
    bounds = date_bounds("started", value, DA, TM)
    assert (bounds.date.low, bounds.date.high) == (low, high)
    assert bounds.time is None and not bounds.outside


def test_ap_widens_the_interval_by_a_tenth_of_its_distance_from_now():
    """R4 search.html#prefix recommends 10% of the gap to now: ten years back, about a year."""
    ten_years_ago = dt.date.today().year - 10
    bounds = date_bounds("started", f"ap{ten_years_ago}-06", DA, TM)
    assert bounds.date.low is not None and bounds.date.high is not None
    assert f"{ten_years_ago - 2}0601" < bounds.date.low < f"{ten_years_ago}0401"
    assert f"{ten_years_ago}0801" < bounds.date.high < f"{ten_years_ago + 2}0701"


def test_ne_is_the_complement_of_eq():
    """R4 search.html#prefix: ``ne`` matches what ``eq`` does not (among values present)."""
    bounds = date_bounds("started", "ne2021-03", DA, TM)
    assert (bounds.date.low, bounds.date.high, bounds.outside) == ("20210301", "20210331", True)
    timed = date_bounds("started", "ne2021-03-05T10:00", DA, TM)
    assert timed.outside and timed.time is not None
    assert (timed.time.low, timed.time.high) == ("100000.000000", "100059.999999")


@pytest.mark.parametrize(
    ("value", "start", "stop", "outside"),
    [
        ("2026-12-04", "2026-12-04T00:00:00.000Z", "2026-12-05T00:00:00.000Z", False),
        ("ne2026-12", "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z", True),
        ("gt2026-12-04T10:00:00Z", "2026-12-04T10:00:01.000Z", None, False),
        ("sa2026-12-04T10:00:00Z", "2026-12-04T10:00:01.000Z", None, False),
        ("ge2026-12-04T11:00:00+01:00", "2026-12-04T10:00:00.000Z", None, False),
        ("lt2026-12-04T10:00:00.5Z", None, "2026-12-04T10:00:00.500Z", False),
        ("eb2026", None, "2026-01-01T00:00:00.000Z", False),
        ("le2026-12-04T10:00-02:30", None, "2026-12-04T12:31:00.000Z", False),
        ("2026-12-04T10:00:00.25Z", "2026-12-04T10:00:00.250Z", "2026-12-04T10:00:00.260Z", False),
        (
            "2026-12-04T10:00:00.1234Z",
            "2026-12-04T10:00:00.124Z",
            "2026-12-04T10:00:00.124Z",
            False,
        ),
    ],
)
def test_last_updated_is_a_half_open_utc_interval(
    value: str, start: str | None, stop: str | None, outside: bool
):
    assert instant_bounds("_lastUpdated", value) == Changed(start, stop, outside)


def test_a_date_time_adds_a_time_range():
    bounds = date_bounds("started", "ge2020-03-14T10:30:00+01:00", DA, TM)
    assert bounds.date.low == "20200314"
    assert bounds.time is not None and bounds.time.low == "103000.000000"


@pytest.mark.parametrize("value", ["2020-13", "20200314", "x", "2020-02-30", "gt9999", "xx2020"])
def test_bad_dates_are_refused(value: str):
    with pytest.raises(BadRequest):
        date_bounds("started", value, DA, TM)


def test_tokens_references_and_lists():
    assert token("a|b") == ("a", "b")
    assert token("|b") == ("", "b")
    assert token("b") == (None, "b")
    assert reference_id("patient", "Patient/x", "Patient") == "x"
    assert reference_id("patient", "http://h/fhir/Patient/x", "Patient") == "x"
    assert reference_id("patient", "Group/x", "Patient") is None
    assert split_values("x", "a,b\\,c") == ["a", "b,c"]
    with pytest.raises(BadRequest):
        split_values("x", "a,,b")
