"""Matching terms of PS3.4 C.2.2.2 as typed values, parsed from one query value.

A QIDO-RS parameter (PS3.18 §8.3.4.1) or a C-FIND identifier element becomes one of:

- ``Universal``: empty value or ``*`` alone (C.2.2.2.3): matches everything, returns the attribute;
- ``Single``: exact match (C.2.2.2.1); dates and times normalised so that they match by meaning;
- ``AnyOf``: list of UIDs (C.2.2.2.2), comma-separated in QIDO; also code-string lists
  (``ModalitiesInStudy=CT,MR``), where ``,`` and ``\\`` cannot occur in a value (PS3.5 Table 6.2-1);
- ``Wildcard``: ``*`` and ``?`` in the text VRs of C.2.2.2.4;
- ``Range``: ``low-high``, ``-high``, ``low-`` for DA, TM and DT (C.2.2.2.5).

A DA range and the TM range of the same moment can also be one ``DateTimeRange`` (combined
date-time matching, C.2.2.2.5.4; see ``combine_date_time``).

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
    "DateTimeRange",
    "MatchTerm",
    "Range",
    "Single",
    "Universal",
    "Wildcard",
    "combine_date_time",
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


# The DA and TM attributes that together give one moment (PS3.4 C.2.2.2.5.4 takes Study Date and
# Study Time as its example): keys of the same entity, so their pairing is unambiguous.
_DATE_TIME_PAIRS = {
    0x00080020: 0x00080030,  # StudyDate, StudyTime
    0x00080021: 0x00080031,  # SeriesDate, SeriesTime
    0x00080022: 0x00080032,  # AcquisitionDate, AcquisitionTime
    0x00080023: 0x00080033,  # ContentDate, ContentTime
    0x00100030: 0x00100032,  # PatientBirthDate, PatientBirthTime
    0x00400244: 0x00400245,  # PerformedProcedureStepStartDate, ...StartTime
    0x00400002: 0x00400003,  # ScheduledProcedureStepStartDate, ...StartTime (in its sequence)
}


@dataclass(frozen=True)
class DateTimeRange:
    """A DA range and the TM range of the same moment, matched as one DT range (PS3.4
    C.2.2.2.5.4: "the concatenated string values of each range matching component matched as if
    they were a single DateTime").

    ``low`` and ``high`` are (date, time) pairs in normal form, compared as a pair: a later day,
    or the same day at a later or equal time. StudyDate ``20200314-20200316`` with StudyTime
    ``120000-130000`` runs from (20200314, 120000) to (20200316, 130000), both included, so a
    study at 08:00 on the 15th is inside while separate DA and TM matching would leave it out.
    A bound's time has its missing components as zeros, as in TM matching (``1300`` is
    13:00:00.000000, so 13:00:00.5 is after it).

    An entity's moment is its date and time. Without a date it matches no range (as in DA range
    matching). With a date but an empty time (Study Time is Type 2) the moment is known to the
    day only: it matches when that whole day lies inside the range, i.e. on a day strictly after
    the low bound's day and strictly before the high bound's, and not on a bound's own day, where
    it could lie on either side.
    """

    date: Range
    time: Range

    @property
    def low(self) -> tuple[str, str] | None:
        """The start, (date, time); None when the range is open at the start (``-high``)."""
        if self.date.low is None or self.time.low is None:
            return None
        return self.date.low, self.time.low

    @property
    def high(self) -> tuple[str, str] | None:
        """The end, (date, time); None when the range is open at the end (``low-``)."""
        if self.date.high is None or self.time.high is None:
            return None
        return self.date.high, self.time.high


def combine_date_time(
    terms: tuple[MatchTerm, ...],
) -> tuple[list[DateTimeRange], list[MatchTerm]]:
    """Split ``terms`` into the date-time ranges of combined date-time matching and the terms
    that keep their own meaning (in their original order).

    Combined matching is always on in QIDO-RS and on in C-FIND only when extended negotiation
    accepted it (PS3.4 C.5.1.1, byte 2); the caller decides (``Query.combined_datetime``). PS3.4
    C.2.2.2.5.4 combines "a pair of attributes that are a date and a time, both of which specify
    the same form of range matching", so a pair combines when:

    - both are closed ranges (``d1-d2`` with ``t1-t2``): from (d1, t1) to (d2, t2);
    - both are open at the end (``d1-`` with ``t1-``): from (d1, t1) on;
    - both are open at the start (``-d2`` with ``-t2``): up to (d2, t2);

    and both are keys of the identifier's top level, or of the same sequence item (the
    Scheduled Procedure Step of a worklist). Anything else is matched apart, as C.2.2.2.5.1-2
    say: ranges of different forms (``d1-d2`` with ``t1-``) are not "the same form"; a single
    date is Single Value Matching, not Range Matching, and with a time range it already means
    those times on that day, which is what ``d-d`` combined would mean; a date range with a
    single time is that time on each of those days; a single date with a single time is
    already one moment.
    """
    ranges = {(t.sequence, t.tag): t for t in terms if isinstance(t, Range)}
    found: list[DateTimeRange] = []
    paired: set[tuple[int | None, int]] = set()
    for (sequence, tag), date in ranges.items():
        if tag not in _DATE_TIME_PAIRS:
            continue
        time_key = (sequence, _DATE_TIME_PAIRS[tag])
        time = ranges.get(time_key)
        if time is None or _form(date) != _form(time):
            continue
        found.append(DateTimeRange(date, time))
        paired |= {(sequence, tag), time_key}
    rest = [t for t in terms if (t.sequence, t.tag) not in paired]
    return found, rest


def _form(term: Range) -> tuple[bool, bool]:
    """Which ends of a range are given: the form of range matching (C.2.2.2.5)."""
    return term.low is not None, term.high is not None


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
