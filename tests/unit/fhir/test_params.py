"""FHIR search values as DICOM ranges (R4 search.html#prefix)."""

from __future__ import annotations

import pytest

from openvna.errors import BadRequest
from openvna.fhir.params import date_bounds, reference_id, split_values, token

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
    ],
)
def test_dates_become_day_ranges(value: str, low: str | None, high: str | None):
    bounds = date_bounds("started", value, DA, TM)
    assert (bounds.date.low, bounds.date.high) == (low, high)
    assert bounds.time is None


def test_a_date_time_adds_a_time_range():
    bounds = date_bounds("started", "ge2020-03-14T10:30:00+01:00", DA, TM)
    assert bounds.date.low == "20200314"
    assert bounds.time is not None and bounds.time.low == "103000.000000"


@pytest.mark.parametrize("value", ["ne2020", "2020-13", "20200314", "x", "2020-02-30", "gt9999"])
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
