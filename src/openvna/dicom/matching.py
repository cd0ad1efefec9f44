"""Matching terms of PS3.4 C.2.2.2 as typed values, parsed from one query value.

A QIDO-RS parameter (PS3.18 §8.3.4.1) or a C-FIND identifier element becomes one of:

- ``Universal``: empty value or ``*`` alone (C.2.2.2.3): matches everything, returns the attribute;
- ``Single``: exact match (C.2.2.2.1); dates and times normalised so that they match by meaning;
- ``AnyOf``: list of UIDs (C.2.2.2.2), comma-separated in QIDO; also code-string lists
  (``ModalitiesInStudy=CT,MR``), where ``,`` and ``\\`` cannot occur in a value (PS3.5 Table 6.2-1);
- ``Wildcard``: ``*`` and ``?`` in the text VRs of C.2.2.2.4;
- ``Range``: ``low-high``, ``-high``, ``low-`` for DA, TM and DT (C.2.2.2.5).

Normal forms, so that string comparison is comparison by meaning: DA ``YYYYMMDD``; TM
``HHMMSS.FFFFFF`` (``2230`` is ``223000.000000``); DT as given (validated only).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from openvna.dicom.uid import is_valid_uid
from openvna.errors import InvalidQuery

__all__ = [
    "WILDCARD_VRS",
    "AnyOf",
    "MatchTerm",
    "Range",
    "Single",
    "Universal",
    "Wildcard",
    "date_time_pairs",
    "normalize_date",
    "normalize_time",
    "parse_term",
]

# PS3.4 C.2.2.2.4: the value representations for which * and ? are wildcards.
WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_RANGE_VRS = frozenset({"DA", "TM", "DT"})
_INTEGER_VRS = frozenset({"IS", "SS", "US", "SL", "UL", "SV", "UV"})
_DECIMAL_VRS = frozenset({"DS", "FL", "FD"})

_DATE = re.compile(r"^\d{8}$")
_TIME = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$")
_DATETIME = re.compile(r"^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$")
_INTEGER = re.compile(r"^[+-]?\d{1,12}$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class _Term:
    """``sequence``: the tag of the sequence whose items hold the attribute (PS3.18 §8.3.4.1
    ``Sequence.Attribute`` keys; C.2.2.2.6: a match in any item matches)."""

    tag: int
    keyword: str
    vr: str
    sequence: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Universal(_Term):
    """Matches every entity; asks for the attribute to be returned (C.2.2.2.3)."""


@dataclass(frozen=True)
class Single(_Term):
    """Exact match on one (normalised) value (C.2.2.2.1)."""

    value: str


@dataclass(frozen=True)
class AnyOf(_Term):
    """Match when the attribute equals any of ``values`` (C.2.2.2.2)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Wildcard(_Term):
    """``*`` any run of characters (also none), ``?`` exactly one (C.2.2.2.4)."""

    pattern: str


@dataclass(frozen=True)
class Range(_Term):
    """Inclusive range in normal form; ``None`` is an open end (C.2.2.2.5)."""

    low: str | None
    high: str | None


MatchTerm = Universal | Single | AnyOf | Wildcard | Range


def parse_term(
    tag: int, keyword: str, vr: str, raw: str, *, sequence: int | None = None
) -> MatchTerm:
    """Turn one query value into a typed term, validating it against the attribute's VR."""
    term = _parse_term(tag, keyword, vr, raw)
    return replace(term, sequence=sequence) if sequence is not None else term


def _parse_term(tag: int, keyword: str, vr: str, raw: str) -> MatchTerm:
    value = raw.strip() if vr not in ("LT", "ST", "UT") else raw
    if value in ("", "*"):
        return Universal(tag, keyword, vr)
    if vr == "SQ":
        raise InvalidQuery(
            f"{keyword}: matching on sequence contents is not supported", attribute=keyword
        )
    if vr == "UI":
        return _uid_term(tag, keyword, vr, value)
    if vr in _RANGE_VRS:
        return _range_or_single(tag, keyword, vr, value)
    if vr == "CS" and ("," in value or "\\" in value):
        parts = tuple(p.strip() for p in re.split(r"[,\\]", value) if p.strip())
        return AnyOf(tag, keyword, vr, parts)
    if vr in WILDCARD_VRS and ("*" in value or "?" in value):
        return Wildcard(tag, keyword, vr, value)
    if vr in _INTEGER_VRS and not _INTEGER.match(value):
        raise InvalidQuery(f"{keyword}: {raw!r} is not an integer", attribute=keyword)
    if vr in _DECIMAL_VRS and not _DECIMAL.match(value):
        raise InvalidQuery(f"{keyword}: {raw!r} is not a decimal number", attribute=keyword)
    return Single(tag, keyword, vr, value)


def _uid_term(tag: int, keyword: str, vr: str, value: str) -> MatchTerm:
    uids = tuple(u.strip() for u in value.split(","))
    for uid in uids:
        if not is_valid_uid(uid):
            raise InvalidQuery(f"{keyword}: {uid!r} is not a valid UID", attribute=keyword)
    if len(uids) == 1:
        return Single(tag, keyword, vr, uids[0])
    return AnyOf(tag, keyword, vr, uids)


def _range_or_single(tag: int, keyword: str, vr: str, value: str) -> MatchTerm:
    normalize = {"DA": normalize_date, "TM": normalize_time, "DT": _check_datetime}[vr]
    try:
        if "-" not in value or (vr == "DT" and _DATETIME.match(value)):
            return Single(tag, keyword, vr, normalize(value))
        if value.count("-") != 1:
            raise ValueError(value)
        low, high = value.split("-")
        if not low and not high:
            raise ValueError(value)
        low_n = normalize(low) if low else None
        high_n = normalize(high) if high else None
    except ValueError:
        raise InvalidQuery(
            f"{keyword}: {value!r} is not a valid {vr} value or range", attribute=keyword
        ) from None
    if low_n is not None and high_n is not None and low_n > high_n:
        raise InvalidQuery(f"{keyword}: range {value!r} ends before it starts", attribute=keyword)
    return Range(tag, keyword, vr, low_n, high_n)


# Attributes of VR DA and TM that together give one moment (PS3.4 C.2.2.2.5.1 names Study Date
# and Study Time as its example); keys of the same entity, so their pairing is unambiguous.
_DATE_TIME_PAIRS = {
    0x00080020: 0x00080030,  # StudyDate, StudyTime
    0x00080021: 0x00080031,  # SeriesDate, SeriesTime
    0x00080022: 0x00080032,  # AcquisitionDate, AcquisitionTime
    0x00080023: 0x00080033,  # ContentDate, ContentTime
    0x00100030: 0x00100032,  # PatientBirthDate, PatientBirthTime
    0x00400244: 0x00400245,  # PerformedProcedureStepStartDate, ...StartTime
    0x00400002: 0x00400003,  # ScheduledProcedureStepStartDate, ...StartTime
}


def date_time_pairs(
    terms: tuple[MatchTerm, ...],
) -> tuple[list[tuple[Range, Range]], list[MatchTerm]]:
    """Split ``terms`` into (date range, time range) pairs to match as one date-time range, and
    the terms matched on their own.

    PS3.4 C.2.2.2.5.1 (combined date-time matching; always in QIDO-RS, in C-FIND when
    extended negotiation accepted it): a DA range and the TM range of the same moment, given in
    the same form (both closed, both ``low-``, or both ``-high``), are one range: Study Date
    ``20200314-20200316`` with Study Time ``120000-130000`` runs from 2020-03-14 12:00 to
    2020-03-16 13:00, so a study at 08:00 on the 15th matches. Terms of different forms, or a
    single value beside a range, keep their separate meaning (a single date with a time range
    already means that time on that day).
    """
    ranges = {t.tag: t for t in terms if isinstance(t, Range) and t.sequence is None}
    pairs: list[tuple[Range, Range]] = []
    paired: set[int] = set()
    for date_tag, time_tag in _DATE_TIME_PAIRS.items():
        date, time = ranges.get(date_tag), ranges.get(time_tag)
        if date is None or time is None or date.vr != "DA" or time.vr != "TM":
            continue
        if (date.low is None) != (time.low is None) or (date.high is None) != (time.high is None):
            continue
        pairs.append((date, time))
        paired |= {date_tag, time_tag}
    rest = [t for t in terms if t.sequence is not None or t.tag not in paired]
    return pairs, rest


def normalize_date(value: str) -> str:
    """``YYYYMMDD`` (also the retired ``YYYY.MM.DD``), checked to be a real calendar date."""
    text = value.replace(".", "") if len(value) == 10 else value
    if not _DATE.match(text):
        raise ValueError(value)
    dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return text


def normalize_time(value: str) -> str:
    """``HHMMSS.FFFFFF``, missing components as zeros (PS3.4 C.2.2.2.5: ``2230`` = ``223000``)."""
    text = value.replace(":", "") if ":" in value else value
    match = _TIME.match(text)
    if not match:
        raise ValueError(value)
    hh, mm, ss, frac = match.groups()
    if int(hh) > 23 or int(mm or 0) > 59 or int(ss or 0) > 60:
        raise ValueError(value)
    return f"{hh}{mm or '00'}{ss or '00'}.{(frac or '').ljust(6, '0')}"


def _check_datetime(value: str) -> str:
    if not _DATETIME.match(value):
        raise ValueError(value)
    return value
