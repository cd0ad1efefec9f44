"""C-FIND, C-MOVE and C-GET identifiers (PS3.4 C.4.1.1.3, C.4.2.1.4, C.4.3.1.3) to the one
``Query`` of every door, and matches back to response identifiers.

Each key of the identifier becomes the term QIDO-RS would build from the same value
(``matching.parse_term``), so that C-FIND and QIDO-RS answer alike through one SQL path:
universal, single value, list of UIDs (``\\``-separated values), wildcards, ranges, and keys inside
a sequence item (C.2.2.2.6). Every key is a return key (C.2.2.1.2, empty when the entity has no
value), together with the unique key of the level. The query level and the model's root decide
nothing else: relational keys of other levels are matched as QIDO-RS matches them (PS3.4 C.4.1.2.2,
granted by extended negotiation; hierarchical peers send only unique keys above their level).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import UID

from openvna.dicom.json import DicomJson, json_to_dataset
from openvna.dicom.matching import MatchTerm, parse_term
from openvna.dicom.query import Level, Query
from openvna.dicom.tags import keyword_of, tag_hex
from openvna.dimse.encoding import EncodedIdentifier, encode_json
from openvna.errors import InvalidQuery

__all__ = [
    "LEVEL_KEYS",
    "find_query",
    "implicit_little_endian",
    "query_level",
    "response_identifier",
    "retrieve_query",
]

_LEVELS = {
    "PATIENT": Level.PATIENT,
    "STUDY": Level.STUDY,
    "SERIES": Level.SERIES,
    "IMAGE": Level.INSTANCE,
}
_LEVEL_NAMES = {level: name for name, level in _LEVELS.items()}
# The unique key of each level (PS3.4 C.6.1.1, C.6.2.1), returned whether asked or not.
LEVEL_KEYS = {
    Level.PATIENT: 0x00100020,  # PatientID
    Level.STUDY: 0x0020000D,  # StudyInstanceUID
    Level.SERIES: 0x0020000E,  # SeriesInstanceUID
    Level.INSTANCE: 0x00080018,  # SOPInstanceUID
}
_SPECIFIC_CHARACTER_SET = 0x00080005
_QUERY_RETRIEVE_LEVEL = 0x00080052
_RETRIEVE_AE_TITLE = 0x00080054
# Keys the SCP answers itself rather than matching them.
_ANSWERED_HERE = frozenset({_SPECIFIC_CHARACTER_SET, _QUERY_RETRIEVE_LEVEL, _RETRIEVE_AE_TITLE})
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def query_level(identifier: Dataset) -> Level:
    """The Query/Retrieve Level (0008,0052) of an identifier; InvalidQuery when it is missing
    or not one of PATIENT, STUDY, SERIES, IMAGE."""
    value = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if value not in _LEVELS:
        raise InvalidQuery(
            f"QueryRetrieveLevel: {value or 'missing'} (PATIENT, STUDY, SERIES or IMAGE)",
            attribute="QueryRetrieveLevel",
        )
    return _LEVELS[value]


def find_query(identifier: Dataset, *, combined_datetime: bool) -> Query:
    """The query of a C-FIND identifier: every key a term and a return key, no limit (the
    caller stops reading when the peer cancels). InvalidQuery names a key whose value cannot
    be matched (answered 0xA900, "Identifier does not match SOP Class")."""
    level = query_level(identifier)
    terms = tuple(_terms(identifier))
    keys = [LEVEL_KEYS[level], *(tag for tag in _keys(identifier) if tag not in _ANSWERED_HERE)]
    return Query(
        level=level,
        terms=terms,
        return_keys=tuple(dict.fromkeys(keys)),
        combined_datetime=combined_datetime,
        limit=None,
    )


def retrieve_query(identifier: Dataset) -> Query:
    """The entities a C-MOVE or C-GET asks for (PS3.4 C.4.2.2.1): the unique keys of its level
    and above, as a query at that level; other keys are not allowed there and are ignored."""
    level = query_level(identifier)
    unique = set(LEVEL_KEYS.values())
    terms = tuple(
        term for term in _terms(identifier) if term.tag in unique and term.sequence is None
    )
    return Query(level=level, terms=terms, return_keys=(LEVEL_KEYS[level],), limit=None)


def implicit_little_endian(transfer_syntax: str) -> bool | None:
    """Whether a context's transfer syntax is Implicit (True) or Explicit (False) VR Little
    Endian, the two ``response_identifier`` encodes itself; None for any other (PS3.5 A)."""
    syntax = UID(transfer_syntax)
    if not syntax.is_little_endian or syntax.is_deflated:
        return None
    return bool(syntax.is_implicit_VR)


def response_identifier(
    match: DicomJson, query: Query, ae_title: str, implicit: bool | None
) -> Dataset | EncodedIdentifier:
    """A pending C-FIND response's identifier (PS3.4 C.4.1.1.3.2): the keys that were asked,
    the query level, where to retrieve from, and UTF-8 when any text needs it. Encoded here when
    the context is Implicit or Explicit VR Little Endian (``implicit``, from
    ``implicit_little_endian``) and the values are plain ASCII text, names and integers
    (``encoding.encode_json``), else a Dataset that pynetdicom encodes."""
    asked = {tag_hex(tag) for tag in query.return_keys}
    kept = {key: value for key, value in match.items() if key in asked}
    if implicit is not None:
        answered = {
            "00080052": {"vr": "CS", "Value": [_LEVEL_NAMES[query.level]]},
            "00080054": {"vr": "AE", "Value": [ae_title]},
        }
        data = encode_json({**kept, **answered}, implicit)
        if data is not None:
            return EncodedIdentifier(data, implicit)
    ds = json_to_dataset(kept, None)
    ds.QueryRetrieveLevel = _LEVEL_NAMES[query.level]
    ds.RetrieveAETitle = ae_title
    if not orjson.dumps(kept).isascii():
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def _keys(identifier: Dataset) -> Iterable[int]:
    for element in identifier:
        tag = int(element.tag)
        if element.tag.group != 0x0002 and not element.tag.is_private and keyword_of(tag):
            yield tag


def _terms(identifier: Dataset) -> Iterable[MatchTerm]:
    """One term per key (a sequence's item keys each a term inside it, C.2.2.2.6)."""
    for tag in _keys(identifier):
        if tag in _ANSWERED_HERE:
            continue
        element = identifier[Tag(tag)]
        if element.VR == "SQ":
            yield from _sequence_terms(element)
        else:
            yield _term(element)


def _sequence_terms(element: DataElement) -> Iterable[MatchTerm]:
    items = element.value if isinstance(element.value, Sequence) else []
    if len(items) != 1:  # empty: universal; several items are not a matching key (C.2.2.2.6)
        yield parse_term(int(element.tag), element.keyword, "SQ", "")
        return
    for inner in items[0]:
        tag = int(inner.tag)
        if inner.VR == "SQ" or inner.tag.is_private or not keyword_of(tag):
            continue  # one level of nesting, as QIDO-RS's Sequence.Attribute keys
        yield _term(inner, sequence=int(element.tag), prefix=f"{element.keyword}.")


def _term(element: DataElement, *, sequence: int | None = None, prefix: str = "") -> MatchTerm:
    tag = int(element.tag)
    return parse_term(tag, prefix + element.keyword, element.VR, _text(element), sequence=sequence)


def _text(element: DataElement) -> str:
    """The value as query text: UIDs of a list joined by ``,`` (QIDO's list of UID matching,
    C.2.2.2.2), other multiple values by ``\\`` as they were sent."""
    value = element.value
    if value is None or element.VR in _BINARY_VRS:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        separator = "," if element.VR == "UI" else "\\"
        return separator.join(str(item) for item in value)
    return str(value)
