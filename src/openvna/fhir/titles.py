"""The attributes ImagingStudy.series.instance.title comes from (FS-19), read out of an
instance's stored DICOM JSON bytes without parsing all of them.

Content Label (0070,0080), Concept Name Code Sequence (0040,A043) and Document Title
(0042,0010) are rare (SR, SEG, PR, KO, encapsulated documents): a document that has one is
parsed whole. Most instances are images whose only source is Image Type (0008,0008): its element
is cut out and parsed alone. The stored JSON is orjson's with sorted keys (``index.extract``),
so a top-level ImageType is the first occurrence of its key, at depth one; CS values cannot hold
a brace (PS3.5 Table 6.2-1), so its element ends at the first ``}``. Anything unexpected falls
back to parsing the whole document.
"""

from __future__ import annotations

import orjson

from openvna.dicom.json import DicomJson

__all__ = ["TITLE_TAGS", "title_sources"]

TITLE_TAGS = ("00700080", "0040A043", "00420010", "00080008")
_RARE = tuple(f'"{tag}":'.encode() for tag in TITLE_TAGS[:3])
_IMAGE_TYPE = b'"00080008":'


def title_sources(metadata: bytes) -> DicomJson:
    """The title's source elements of one instance, as DICOM JSON."""
    if any(key in metadata for key in _RARE):
        return _whole(metadata)
    at = metadata.find(_IMAGE_TYPE)
    if at < 0:
        return {}
    start = at + len(_IMAGE_TYPE)
    end = metadata.find(b"}", start)
    depth = metadata.count(b"{", 0, at) - metadata.count(b"}", 0, at)
    if end < 0 or depth != 1:
        return _whole(metadata)
    try:
        element = orjson.loads(metadata[start : end + 1])
    except orjson.JSONDecodeError:
        return _whole(metadata)
    return {"00080008": element}


def _whole(metadata: bytes) -> DicomJson:
    parsed = orjson.loads(metadata)
    return {tag: parsed[tag] for tag in TITLE_TAGS if tag in parsed}
