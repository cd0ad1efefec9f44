"""Matching a workitem's stored dataset against the terms of a query (PS3.4 C.2.2.2), in Python.

SearchForUPS matches the attributes copied into columns of ``workitems`` in SQL (the shared
``index.sqlmatch``); every other key, and the filter of a filtered global subscription (PS3.4
CC.2.3.1), is matched here on the DICOM JSON of each candidate, with the same meanings:
universal, single value (PN upper-cased, whole name or family name, as ``sqlmatch``), list of
UIDs, ``*``/``?`` wildcards, DA/TM/DT ranges, and a key inside a sequence matching any item
(C.2.2.2.6).
"""

from __future__ import annotations

import re

from openvna.dicom.json import DicomJson
from openvna.dicom.matching import (
    AnyOf,
    MatchTerm,
    Range,
    Single,
    Universal,
    Wildcard,
    normalize_date,
    normalize_time,
)
from openvna.dicom.tags import tag_hex

__all__ = ["matches"]


def matches(dataset: DicomJson, terms: tuple[MatchTerm, ...] | list[MatchTerm]) -> bool:
    """Whether ``dataset`` matches every term."""
    return all(_matches(dataset, term) for term in terms)


def _matches(dataset: DicomJson, term: MatchTerm) -> bool:
    if isinstance(term, Universal):
        return True
    if term.sequence is None:
        return _values_match(_texts(dataset, tag_hex(term.tag), term.vr), term)
    items = dataset.get(tag_hex(term.sequence), {}).get("Value") or []
    return any(
        isinstance(item, dict) and _values_match(_texts(item, tag_hex(term.tag), term.vr), term)
        for item in items
    )


def _texts(dataset: DicomJson, key: str, vr: str) -> list[str]:
    values = dataset.get(key, {}).get("Value") or []
    texts = []
    for item in values:
        if vr == "PN":
            texts.append(str((item or {}).get("Alphabetic", "")).upper())
        elif item is not None:
            texts.append(str(item))
    return texts


def _values_match(texts: list[str], term: MatchTerm) -> bool:
    return any(_one(text, term) for text in texts)


def _one(text: str, term: MatchTerm) -> bool:
    if isinstance(term, Range):
        return _in_range(text, term)
    if isinstance(term, Wildcard):
        pattern = term.pattern.upper() if term.vr == "PN" else term.pattern
        return _wildcard(pattern).fullmatch(text) is not None
    wanted = (
        term.values
        if isinstance(term, AnyOf)
        else (term.value,)
        if isinstance(term, Single)
        else ()
    )
    if term.vr == "PN":
        return any(_name_matches(text, value) for value in wanted)
    normal = _normal(text, term.vr)
    return any(normal == _normal(value, term.vr) for value in wanted)


def _name_matches(name: str, value: str) -> bool:
    wanted = value.upper().rstrip("^ ").split("=")[0]
    return name == wanted or ("^" not in wanted and name.startswith(wanted + "^"))


def _normal(text: str, vr: str) -> str:
    try:
        if vr == "DA":
            return normalize_date(text)
        if vr == "TM":
            return normalize_time(text)
    except ValueError:
        return text
    return text.strip()


def _in_range(text: str, term: Range) -> bool:
    """DA/TM compare in normal form; DT by its leading digits (an offset is ignored), so a
    bound given to the day takes in the whole of that day."""
    if not text:
        return False
    if term.vr == "DT":
        moment = re.sub(r"[+-]\d{4}$", "", text)
        low = term.low and re.sub(r"[+-]\d{4}$", "", term.low)
        high = term.high and re.sub(r"[+-]\d{4}$", "", term.high)
        return (not low or moment >= low) and (not high or moment[: len(high)] <= high)
    normal = _normal(text, term.vr)
    return (term.low is None or normal >= term.low) and (term.high is None or normal <= term.high)


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)
