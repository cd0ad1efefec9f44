"""Attribute tags: keywords and 8-hex-digit forms (PS3.6 data dictionary, PS3.18 §8.3.4.1).

QIDO-RS names attributes either by keyword (``PatientName``) or by tag (``00100010``), and the JSON
and XML models key attributes by tag; this module converts between the forms, one place for all.
"""

from __future__ import annotations

import re

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from openvna.errors import InvalidQuery

__all__ = ["VALUE_REPRESENTATIONS", "keyword_of", "parse_tag", "tag_hex", "vr_of"]

VALUE_REPRESENTATIONS = frozenset(
    [
        "AE",
        "AS",
        "AT",
        "CS",
        "DA",
        "DS",
        "DT",
        "FD",
        "FL",
        "IS",
        "LO",
        "LT",
        "OB",
        "OD",
        "OF",
        "OL",
        "OV",
        "OW",
        "PN",
        "SH",
        "SL",
        "SQ",
        "SS",
        "ST",
        "SV",
        "TM",
        "UC",
        "UI",
        "UL",
        "UN",
        "UR",
        "US",
        "UT",
        "UV",
    ]
)
"""The VRs of PS3.5 Table 6.2-1, the only ones the JSON and XML models may name."""

_HEX_TAG = re.compile(r"[0-9A-Fa-f]{8}")


def parse_tag(text: str) -> int:
    """Return the tag named by a keyword or by 8 hex digits (any case).

    Raises
    ------
    InvalidQuery
        When ``text`` is neither a dictionary keyword nor 8 hex digits; ``attribute`` is ``text``.
    """
    if _HEX_TAG.fullmatch(text):
        return int(text, 16)
    tag = tag_for_keyword(text) if text else None  # some retired entries have "" as keyword
    if tag is None:
        raise InvalidQuery(f"Unknown attribute '{text}'", attribute=text)
    return int(tag)


def tag_hex(tag: int) -> str:
    """Format a tag as the JSON model keys it (PS3.18 F.2.1.1): 8 uppercase hex digits."""
    return f"{tag:08X}"


def keyword_of(tag: int) -> str:
    """Return the dictionary keyword of ``tag``, or ``""`` for private and unknown tags."""
    if (tag >> 16) % 2:
        return ""
    return keyword_for_tag(tag) or ""


def vr_of(tag: int) -> str:
    """Return the dictionary VR of ``tag`` (PS3.6); ``"UN"`` for private and unknown tags.

    Where PS3.6 lists alternatives (``"US or SS"``, ``"OB or OW"``), the first one is returned:
    callers need one VR to encode a value, and the alternatives agree on the value's meaning.
    Private Creator elements (gggg,0010-00FF in an odd group) are ``"LO"`` (PS3.5 §7.8.1).
    """
    if (tag >> 16) % 2:
        return "LO" if 0x0010 <= tag & 0xFFFF <= 0x00FF else "UN"
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr.split(" or ")[0] if vr else "UN"
