"""FHIR search parameter values (R4 search.html): prefixes, dates, tokens, references.

Each parser turns one value into terms of PS3.4 C.2.2.2 matching (``openvna.dicom.matching``),
so that FHIR search runs on the archive's one ``Query`` path (DESIGN.md "Data flow"). A value
that cannot mean anything raises ``BadRequest`` naming the parameter (400, R4 http.html#search).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from openvna.dicom.matching import Range
from openvna.dicom.query import Changed
from openvna.errors import BadRequest

__all__ = [
    "DateBounds",
    "date_bounds",
    "instant_bounds",
    "reference_id",
    "split_values",
    "token",
]

_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_FHIR_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_MICRO = dt.timedelta(microseconds=1)


def split_values(name: str, raw: str) -> list[str]:
    """A parameter's comma-separated values (OR, R4 search.html#combining); ``\\,`` escapes."""
    parts = [p.replace("\\,", ",").strip() for p in re.split(r"(?<!\\),", raw)]
    if not all(parts):
        raise BadRequest(f"{name}: empty value in {raw!r}", attribute=name)
    return parts


def token(value: str) -> tuple[str | None, str]:
    """``[system]|code`` → (system, code); system None when no ``|`` (any system), '' for
    ``|code`` (no system)."""
    if "|" not in value:
        return None, value
    system, _, code = value.partition("|")
    return system, code


def reference_id(name: str, value: str, resource_type: str) -> str | None:
    """The id of a reference search value (``Type/id``, ``id``, or an absolute URL ending in
    ``Type/id``); None when it names another resource type (matches nothing here)."""
    parts = value.rstrip("/").split("/")
    if len(parts) == 1:
        return parts[0]
    kind, ident = parts[-2], parts[-1]
    if not ident or not kind:
        raise BadRequest(f"{name}: {value!r} is not a reference", attribute=name)
    return ident if kind == resource_type else None


@dataclass(frozen=True)
class DateBounds:
    """A search date's prefix and its DICOM ranges: the date range, and the time range when the
    value was given to the second or finer (then matched with the date as one moment, PS3.4
    C.2.2.2.5.4). The time zone of the value is not applied: DICOM dates and times are local.
    ``outside`` (prefix ``ne``): the match is everything with a date that is not in the ranges."""

    date: Range
    time: Range | None
    outside: bool = False


def date_bounds(name: str, value: str, date_tag: int, time_tag: int) -> DateBounds:
    """One ``started``/``birthdate`` value (R4 search.html#prefix, #date) as DICOM ranges.

    The value is an interval at its precision (``2020`` is the whole year), and so is the
    stored date (a day) or date and time (a second): ``eq`` the stored interval within the
    value's, ``ne`` not within it, ``ge``/``le`` from its start / to its end, ``gt``/``sa``
    after its end, ``lt``/``eb`` before its start (for an interval no wider than the value's,
    "starts after" and "overlaps the range above" are the same), ``ap`` as ``eq`` over the
    interval widened by a tenth of its distance from now on each side (the 10% the
    specification recommends).
    """
    prefix, start, end, timed = _prefixed(name, value)
    low: dt.datetime | None = start
    high: dt.datetime | None = end
    if prefix in ("gt", "sa"):
        low, high = _shift(name, end, _MICRO), None
    elif prefix in ("lt", "eb"):
        low, high = None, _shift(name, start, -_MICRO)
    elif prefix == "ge":
        high = None
    elif prefix == "le":
        low = None
    day_range = Range(
        date_tag,
        "date",
        "DA",
        _da(low) if low else None,
        _da(high) if high else None,
    )
    outside = prefix == "ne"
    if not timed:
        return DateBounds(day_range, None, outside)
    time_range = Range(
        time_tag,
        "time",
        "TM",
        low.strftime("%H%M%S.%f") if low else None,
        high.strftime("%H%M%S.%f") if high else None,
    )
    return DateBounds(day_range, time_range, outside)


def instant_bounds(name: str, value: str) -> Changed:
    """One ``_lastUpdated`` value (R4 search.html#lastUpdated) over the index's change times,
    which are instants (a millisecond wide): the value's interval at its precision, in UTC
    (its offset applied; none given: UTC, the zone of the stored times), half open, then the
    prefix as in ``date_bounds``."""
    prefix, start, end, _timed = _prefixed(name, value, utc=True)
    stop = _shift(name, end, _MICRO)
    first, after = _instant(start), _instant(stop)
    if prefix in ("gt", "sa"):
        return Changed(after, None)
    if prefix in ("lt", "eb"):
        return Changed(None, first)
    if prefix == "ge":
        return Changed(first, None)
    if prefix == "le":
        return Changed(None, after)
    return Changed(first, after, outside=prefix == "ne")


def _instant(moment: dt.datetime) -> str:
    """A UTC moment in the index's form (``schema.utc_stamp``), rounded up to the millisecond
    so that a half-open bound stays exact."""
    rounded = moment + dt.timedelta(microseconds=-moment.microsecond % 1000)
    return (
        f"{rounded.year:04d}-"
        + rounded.strftime("%m-%dT%H:%M:%S.")
        + (f"{rounded.microsecond // 1000:03d}Z")
    )


def _da(moment: dt.datetime) -> str:
    """A DA value (PS3.5 6.2): four-digit year, also before 1000 (``strftime`` drops zeros)."""
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"


def _prefixed(
    name: str, value: str, *, utc: bool = False
) -> tuple[str, dt.datetime, dt.datetime, bool]:
    """The prefix and the value's interval (``ap``: widened; then matched as ``eq``)."""
    prefix, text = (value[:2], value[2:]) if value[:2] in _PREFIXES else ("eq", value)
    start, end, timed = _interval(name, text, utc=utc)
    if prefix != "ap":
        return prefix, start, end, timed
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) if utc else dt.datetime.now()
    gap = abs(now - start) / 10
    low = start - min(gap, start - dt.datetime.min)
    return "eq", low, end + min(gap, dt.datetime.max - end), timed


def _shift(name: str, moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    try:
        return moment + delta
    except OverflowError:
        raise BadRequest(f"{name}: the date is out of range", attribute=name) from None


def _interval(name: str, text: str, *, utc: bool = False) -> tuple[dt.datetime, dt.datetime, bool]:
    """The first and last microsecond of a date or dateTime at its precision, and whether it
    has a time; with ``utc`` in UTC (a given offset applied), else as written (local)."""
    match = _FHIR_DATE.match(text)
    if match is None:
        raise BadRequest(f"{name}: {text!r} is not a FHIR date or dateTime", attribute=name)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        if hour is not None:
            start = dt.datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
            )
            micro = int((fraction or ".0")[1:7].ljust(6, "0"))
            start = start.replace(microsecond=micro)
            digits = len(fraction or ".") - 1
            width = (
                dt.timedelta(microseconds=10 ** max(0, 6 - digits))
                if digits
                else dt.timedelta(seconds=1 if second is not None else 60)
            )
            if utc and zone not in (None, "Z"):
                start = _shift(name, start, -_offset(zone))
            return start, start + width - _MICRO, True
        start = dt.datetime(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a valid date", attribute=name) from None
    if day is not None:
        last = start
    elif month is not None:
        last = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    else:
        last = start.replace(month=12, day=31)
    return start, last.replace(hour=23, minute=59, second=59, microsecond=999999), False


def _offset(zone: str) -> dt.timedelta:
    hours, minutes = zone[1:].split(":")
    offset = dt.timedelta(hours=int(hours), minutes=int(minutes))
    return -offset if zone[0] == "-" else offset
