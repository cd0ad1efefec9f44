"""C-FIND response identifiers: encoded here for plain values, a Dataset otherwise, the same
bytes either way."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom.dsutils import encode

from openvna.dicom.json import json_to_dataset
from openvna.dimse.encoding import EncodedIdentifier
from openvna.dimse.identifier import find_query, implicit_little_endian, response_identifier

MATCH: dict[str, Any] = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3.4"]},
    "00080061": {"vr": "CS", "Value": ["CT", "PT"]},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]},
    "00201208": {"vr": "IS", "Value": [12]},
    "00100020": {"vr": "LO", "Value": ["not asked"]},
}


def _query() -> Any:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.ModalitiesInStudy = "PT"
    identifier.PatientName = ""
    identifier.NumberOfStudyRelatedInstances = None
    return find_query(identifier, combined_datetime=False)


def _expected(match: dict[str, Any]) -> Dataset:
    """The identifier as a Dataset: the asked keys, the level, the AE title."""
    asked = {k: v for k, v in match.items() if k != "00100020"}
    ds = json_to_dataset(asked)
    ds.QueryRetrieveLevel = "STUDY"
    ds.RetrieveAETitle = "OPENVNA"
    return ds


@pytest.mark.parametrize(
    ("syntax", "implicit"), [(ImplicitVRLittleEndian, True), (ExplicitVRLittleEndian, False)]
)
def test_plain_values_are_encoded_in_the_contexts_syntax(syntax: str, implicit: bool) -> None:
    got = response_identifier(MATCH, _query(), "OPENVNA", implicit_little_endian(syntax))
    assert isinstance(got, EncodedIdentifier)
    assert got.implicit is implicit
    assert got.data == encode(_expected(MATCH), implicit, True)


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian])
def test_other_syntaxes_get_a_dataset(syntax: str) -> None:
    got = response_identifier(MATCH, _query(), "OPENVNA", implicit_little_endian(syntax))
    assert isinstance(got, Dataset)
    assert encode(got, True, True) == encode(_expected(MATCH), True, True)


def test_text_beyond_ascii_gets_a_dataset_in_utf8() -> None:
    match = {**MATCH, "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Dürer^Albrecht"}]}}
    got = response_identifier(match, _query(), "OPENVNA", True)
    assert isinstance(got, Dataset)
    assert got.SpecificCharacterSet == "ISO_IR 192"
    assert str(got.PatientName) == "Dürer^Albrecht"
