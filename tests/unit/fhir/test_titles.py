"""Title sources cut out of stored JSON bytes (fhir/titles.py) agree with a full parse."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from openvna.fhir.titles import TITLE_TAGS, title_sources


def _stored(ds: dict[str, Any]) -> bytes:
    return orjson.dumps(ds, option=orjson.OPT_SORT_KEYS)  # as index.extract.dumps writes it


IMAGE = {
    "00080008": {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY", "AXIAL"]},
    "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
    "00081140": {"vr": "SQ", "Value": [{"00080008": {"vr": "CS", "Value": ["DERIVED"]}}]},
}
REPORT = {
    "0040A043": {"vr": "SQ", "Value": [{"00080104": {"vr": "LO", "Value": ["Report {1}"]}}]},
    "00080008": {"vr": "CS", "Value": ["ORIGINAL"]},
}
NESTED_ONLY = {"00081140": IMAGE["00081140"]}


@pytest.mark.parametrize("ds", [IMAGE, REPORT, NESTED_ONLY, {}, {"00420010": {"vr": "ST"}}])
def test_title_sources_match_a_full_parse(ds: dict[str, Any]):
    expected = {tag: ds[tag] for tag in TITLE_TAGS if tag in ds}
    assert title_sources(_stored(ds)) == expected
