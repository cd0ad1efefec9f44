"""Match terms (PS3.4 C.2.2.2) built by keyword, for the FHIR search parameters."""

from __future__ import annotations

from collections.abc import Sequence

from openvna.dicom.matching import AnyOf, MatchTerm, Single, Wildcard
from openvna.dicom.query import resolve_attribute

__all__ = ["any_of", "single", "tag_of", "wildcard"]


def tag_of(keyword: str) -> int:
    return resolve_attribute(keyword)[0]


def single(keyword: str, value: str) -> MatchTerm:
    tag, name, vr = resolve_attribute(keyword)
    return Single(tag, name, vr, value)


def any_of(keyword: str, values: Sequence[str]) -> MatchTerm:
    """One value as Single, several as AnyOf (C.2.2.2.2): the index matches either with IN."""
    unique = tuple(dict.fromkeys(values))
    if len(unique) == 1:
        return single(keyword, unique[0])
    tag, name, vr = resolve_attribute(keyword)
    return AnyOf(tag, name, vr, unique)


def wildcard(keyword: str, pattern: str) -> MatchTerm:
    tag, name, vr = resolve_attribute(keyword)
    return Wildcard(tag, name, vr, pattern)
