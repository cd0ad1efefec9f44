"""Tags: keywords and hex forms (PS3.6), as QIDO-RS and the JSON model name attributes."""

from __future__ import annotations

import pytest

from openvna.dicom.tags import keyword_of, parse_tag, tag_hex, vr_of
from openvna.errors import InvalidQuery


def test_parse_tag_accepts_keywords_and_hex_in_any_case() -> None:
    assert parse_tag("PatientName") == 0x00100010
    assert parse_tag("StudyInstanceUID") == 0x0020000D
    assert parse_tag("0020000D") == 0x0020000D
    assert parse_tag("0020000d") == 0x0020000D
    assert parse_tag("00291010") == 0x00291010  # private tags are allowed by number


@pytest.mark.parametrize("text", ["PatientNme", "0010001", "001000100", "0010001G", "", "x"])
def test_parse_tag_rejects_unknown_attribute_naming_it(text: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse_tag(text)
    assert caught.value.attribute == text
    assert caught.value.message == f"Unknown attribute '{text}'"


def test_tag_hex_is_eight_uppercase_digits() -> None:
    assert tag_hex(0x0020000D) == "0020000D"
    assert tag_hex(0x00100010) == "00100010"
    assert tag_hex(0x7FE00010) == "7FE00010"


def test_keyword_of_public_private_and_unknown() -> None:
    assert keyword_of(0x00100010) == "PatientName"
    assert keyword_of(0x00291010) == ""
    assert keyword_of(0x00090010) == ""
    assert keyword_of(0x00100001) == ""


def test_vr_of_dictionary_private_creator_and_unknown() -> None:
    assert vr_of(0x00100010) == "PN"
    assert vr_of(0x00200013) == "IS"
    assert vr_of(0x00280106) == "US"  # "US or SS" in PS3.6: the first alternative
    assert vr_of(0x60003000) == "OB"  # repeating group (60xx,3000) "OB or OW"
    assert vr_of(0x00291010) == "UN"
    assert vr_of(0x00290010) == "LO"  # Private Creator
    assert vr_of(0x00100001) == "UN"
