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
from openvna.errors import BadRequest

__all__ = [
    "DateBounds",
    "date_bounds",
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
    C.2.2.2.5.4). The time zone of the value is not applied: DICOM dates and times are local."""

    date: Range
    time: Range | None


def date_bounds(name: str, value: str, date_tag: int, time_tag: int) -> DateBounds:
    """One ``started``/``birthdate`` value (R4 search.html#prefix, #date) as DICOM ranges.

    The value is an interval at its precision (``2020`` is the whole year): ``eq`` that
    interval, ``ge``/``le`` from its start / to its end, ``gt``/``sa`` after its end, ``lt``/``eb``
    before its start, ``ap`` as ``eq``. ``ne`` cannot be one range and is refused.
    """
    prefix, text = (value[:2], value[2:]) if value[:2] in _PREFIXES else ("eq", value)
    if prefix == "ne":
        raise BadRequest(f"{name}: the prefix 'ne' is not supported", attribute=name)
    start, end, timed = _interval(name, text)
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
        low.strftime("%Y%m%d") if low else None,
        high.strftime("%Y%m%d") if high else None,
    )
    if not timed:
        return DateBounds(day_range, None)
    time_range = Range(
        time_tag,
        "time",
        "TM",
        low.strftime("%H%M%S.%f") if low else None,
        high.strftime("%H%M%S.%f") if high else None,
    )
    return DateBounds(day_range, time_range)


def _shift(name: str, moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    try:
        return moment + delta
    except OverflowError:
        raise BadRequest(f"{name}: the date is out of range", attribute=name) from None


def _interval(name: str, text: str) -> tuple[dt.datetime, dt.datetime, bool]:
    match = _FHIR_DATE.match(text)
    if match is None:
        raise BadRequest(f"{name}: {text!r} is not a FHIR date or dateTime", attribute=name)
    year, month, day, hour, minute, second, fraction, _zone = match.groups()
    try:
        if hour is not None:
            start = dt.datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
            )
            micro = int((fraction or ".0")[1:7].ljust(6, "0"))
            start = start.replace(microsecond=micro)
            width = dt.timedelta(seconds=1 if second is not None else 60)
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
