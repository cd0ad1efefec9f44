"""Accept parsing and negotiation (PS3.18 §8.7, RFC 9110 §12.5.1)."""

from __future__ import annotations

import pytest

from openvna.dicom.media import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    MediaRange,
    Offer,
    media_type_of_frames,
    negotiate,
    parse_accept,
    requested_name,
)
from openvna.errors import BadRequest, NotAcceptable

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
DICOM = Offer("application/dicom", syntaxes=frozenset({JPEG_BASELINE}))
DICOM_SINGLE = Offer("application/dicom", multipart=False, syntaxes=frozenset({JPEG_BASELINE}))
JSON = Offer("application/dicom+json", multipart=False)
PLAIN_JSON = Offer("application/json", multipart=False)
XML = Offer("application/dicom+xml")
METADATA = [JSON, PLAIN_JSON, XML]


def test_parse_absent_or_empty_header_accepts_anything() -> None:
    assert parse_accept(None) == [MediaRange("*/*")]
    assert parse_accept("  ") == [MediaRange("*/*")]
    assert parse_accept(" , ") == [MediaRange("*/*")]


def test_parse_multipart_range_with_quoted_parameters() -> None:
    (only,) = parse_accept(
        'Multipart/Related; TYPE="application/dicom"; Transfer-Syntax=1.2.840.10008.1.2.1;'
        " boundary=**"
    )
    assert only.media_type == "multipart/related"
    assert only.is_multipart
    assert only.part_type == "application/dicom"
    assert only.transfer_syntax == EXPLICIT_VR_LITTLE_ENDIAN
    assert only.params["boundary"] == "**"
    assert only.q == 1.0


def test_parse_keeps_commas_and_semicolons_inside_quotes() -> None:
    ranges = parse_accept('multipart/related; type="a/b;c,d"; q=0.5, application/json')
    assert [r.media_type for r in ranges] == ["multipart/related", "application/json"]
    assert ranges[0].params["type"] == "a/b;c,d"
    assert ranges[0].q == 0.5


def test_parse_lenient_forms_from_real_clients() -> None:
    # Java's HttpURLConnection default header: a lone "*" and q=.2
    ranges = parse_accept("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2")
    assert [r.media_type for r in ranges][-2:] == ["*/*", "*/*"]
    assert ranges[-1].q == pytest.approx(0.2)
    # trailing semicolons and parameters without values are ignored
    (only,) = parse_accept("application/dicom+json;;charset;")
    assert only.media_type == "application/dicom+json"
    assert dict(only.params) == {}


@pytest.mark.parametrize(
    ("header", "culprit"),
    [
        ("application", "'application'"),
        ("*/json", "'*/json'"),
        ("application/dicom; q=2", "'2'"),
        ("application/dicom; q=high", "'high'"),
        ("app lication/dicom", "'app lication/dicom'"),
    ],
)
def test_parse_malformed_range_is_bad_request_naming_it(header: str, culprit: str) -> None:
    with pytest.raises(BadRequest, match=culprit) as info:
        parse_accept(header)
    assert info.value.attribute == "Accept"


def test_negotiate_default_and_wildcards_prefer_server_order() -> None:
    assert negotiate(parse_accept(None), METADATA) is JSON
    assert negotiate(parse_accept("*/*"), METADATA) is JSON
    assert negotiate(parse_accept("application/*"), METADATA) is JSON
    assert negotiate(parse_accept("application/json"), METADATA) is PLAIN_JSON


def test_negotiate_honours_quality_values() -> None:
    header = "application/dicom+json; q=0.4, multipart/related; type=application/dicom+xml"
    assert negotiate(parse_accept(header), METADATA) is XML
    assert negotiate(parse_accept("*/*, application/dicom+json; q=0"), METADATA) is PLAIN_JSON


def test_negotiate_most_specific_range_sets_the_quality() -> None:
    header = "*/*; q=0.9, multipart/related; q=0.1"
    # the multipart range is more specific for XML and lowers it; JSON keeps 0.9
    assert negotiate(parse_accept(header), [XML, JSON]) is JSON


def test_negotiate_zero_quality_everywhere_is_not_acceptable() -> None:
    with pytest.raises(NotAcceptable, match="available: application/dicom"):
        negotiate(parse_accept("*/*; q=0"), METADATA)


def test_negotiate_transfer_syntax_as_stored_or_wildcard() -> None:
    for header in (
        'multipart/related; type="application/dicom"',
        'multipart/related; type="application/dicom"; transfer-syntax=*',
        f"multipart/related; type=application/dicom; transfer-syntax={JPEG_BASELINE}",
        "multipart/related",
        "*/*",
    ):
        assert negotiate(parse_accept(header), [DICOM]) is DICOM, header


def test_negotiate_other_transfer_syntax_is_not_acceptable_naming_both() -> None:
    header = f"multipart/related; type=application/dicom; transfer-syntax={JPEG_LOSSLESS}"
    with pytest.raises(NotAcceptable) as info:
        negotiate(parse_accept(header), [DICOM])
    assert JPEG_LOSSLESS in info.value.message
    assert f"stored as {JPEG_BASELINE}" in info.value.message


def test_negotiate_mixed_syntaxes_refuse_a_specific_one() -> None:
    mixed = Offer("application/dicom", syntaxes=frozenset({JPEG_BASELINE, JPEG_LOSSLESS}))
    header = f"multipart/related; type=application/dicom; transfer-syntax={JPEG_LOSSLESS}"
    with pytest.raises(NotAcceptable, match=JPEG_BASELINE):
        negotiate(parse_accept(header), [mixed])
    assert negotiate(parse_accept("multipart/related; type=application/dicom"), [mixed]) is mixed


def test_negotiate_falls_back_to_lower_quality_range_when_syntax_differs() -> None:
    header = (
        f"multipart/related; type=application/dicom; transfer-syntax={EXPLICIT_VR_LITTLE_ENDIAN},"
        " multipart/related; type=application/dicom; transfer-syntax=*; q=0.5"
    )
    assert negotiate(parse_accept(header), [DICOM]) is DICOM


def test_negotiate_single_part_prefers_single_offer_then_falls_back_to_multipart() -> None:
    assert negotiate(parse_accept("application/dicom"), [DICOM, DICOM_SINGLE]) is DICOM_SINGLE
    assert negotiate(parse_accept("application/dicom"), [DICOM]) is DICOM
    assert negotiate(parse_accept("application/dicom+xml"), METADATA) is XML


def test_negotiate_aliases_and_part_wildcards() -> None:
    jpeg = Offer("image/jpeg", syntaxes=frozenset({JPEG_BASELINE}))
    for header in (
        "multipart/related; type=image/dicom+jpeg",
        'multipart/related; type="image/*"',
        'multipart/related; type="*/*"',
        "image/jpeg",
    ):
        assert negotiate(parse_accept(header), [jpeg]) is jpeg, header
    with pytest.raises(NotAcceptable, match="image/jp2"):
        negotiate(parse_accept("multipart/related; type=image/jp2"), [jpeg])


def test_negotiate_default_syntax_refused_when_offer_needs_one_named() -> None:
    lossless = Offer(
        "application/octet-stream", syntaxes=frozenset({JPEG_LOSSLESS}), default_ok=False
    )
    with pytest.raises(NotAcceptable, match=f"stored as {JPEG_LOSSLESS}"):
        negotiate(parse_accept("multipart/related; type=application/octet-stream"), [lossless])
    header = "multipart/related; type=application/octet-stream; transfer-syntax=*"
    assert negotiate(parse_accept(header), [lossless]) is lossless


def test_refusal_lists_what_was_asked_and_what_exists() -> None:
    with pytest.raises(NotAcceptable) as info:
        negotiate(parse_accept("text/html, image/png; q=0.5"), METADATA)
    message = info.value.message
    assert "text/html, image/png; q=0.5" in message
    available = 'application/json; or multipart/related; type="application/dicom+xml"'
    assert "available: application/dicom+json; or " + available in message


@pytest.mark.parametrize(
    ("syntax", "media_type"),
    [
        ("1.2.840.10008.1.2.1", "application/octet-stream"),
        ("1.2.840.10008.1.2", "application/octet-stream"),
        (JPEG_BASELINE, "image/jpeg"),
        ("1.2.840.10008.1.2.4.57", "image/jpeg"),
        ("1.2.840.10008.1.2.4.80", "image/jls"),
        ("1.2.840.10008.1.2.4.90", "image/jp2"),
        ("1.2.840.10008.1.2.5", "image/dicom-rle"),
        ("1.2.840.10008.1.2.4.102", "video/mp4"),
    ],
)
def test_media_type_of_frames_follows_table_8_7_3_5(syntax: str, media_type: str) -> None:
    assert media_type_of_frames(syntax) == media_type


def test_requested_name_echoes_an_alias_only_when_the_standard_name_is_not_asked() -> None:
    jpeg = Offer("image/jpeg", syntaxes=frozenset({JPEG_BASELINE}))
    assert requested_name(parse_accept("multipart/related; type=image/dicom+jpeg"), jpeg) == (
        "image/dicom+jpeg"
    )
    assert requested_name(parse_accept("IMAGE/DICOM+JPEG"), jpeg) == "image/dicom+jpeg"
    both = "multipart/related; type=image/dicom+jpeg, multipart/related; type=image/jpeg; q=0.1"
    assert requested_name(parse_accept(both), jpeg) == "image/jpeg"
    assert requested_name(parse_accept("*/*"), jpeg) == "image/jpeg"
    refused = "multipart/related; type=image/dicom+jpeg; q=0, */*"
    assert requested_name(parse_accept(refused), jpeg) == "image/jpeg"
