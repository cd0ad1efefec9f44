"""Fast decoding of raw element values for the JSON model (PS3.5 §6.2, PS3.18 F.2).

``dataset_to_json`` runs once per stored instance. Letting pydicom convert every element costs
more than the rest of the conversion together, so the common cases (text in a single-byte or
UTF-8 character set, binary numbers, AT, IS/DS) are decoded here straight from the bytes read
from the file. Anything else (sequences, UN, ambiguous VRs, ISO 2022 code extensions, deferred
values) returns None and goes through pydicom.
"""

from __future__ import annotations

import math
import re
import struct
from decimal import Decimal, InvalidOperation
from typing import Any

from pydicom.dataelem import RawDataElement

__all__ = ["float32_json", "number_json", "person_name_json", "raw_to_json"]

_STRUCT = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "SV": "q", "UV": "Q", "FL": "f", "FD": "d"}
# Leading and trailing spaces are insignificant (PS3.5 Table 6.2-1).
_STRIPPED = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "LO", "SH"})
# A single value, whose backslashes are text (PS3.5 §6.4).
_SINGLE = frozenset({"LT", "ST", "UT", "UR"})
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"})
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT32 = struct.Struct("<f")


def raw_to_json(raw: RawDataElement, vr: str, encodings: list[str]) -> dict[str, Any] | None:
    """Encode a raw element as a JSON model attribute, or None when pydicom must decode it."""
    data = raw.value
    if data is None:
        return None if raw.length else {"vr": vr}
    if not data:
        return {"vr": vr}
    if vr in ("IS", "DS"):
        return _values(vr, [number_json(t, vr) for t in _split(data.decode("latin-1"), vr)])
    if vr in _ASCII_VRS:
        return _values(vr, _split(data.decode("latin-1"), vr))
    if vr in _CHARSET_VRS:
        if len(encodings) != 1 or b"\x1b" in data:  # ISO 2022 escape sequences: pydicom's job
            return None
        try:
            text = data.decode(encodings[0])
        except (UnicodeDecodeError, LookupError):
            return None
        if vr == "PN":
            names = [person_name_json(t) for t in _split(text, vr)]
            return _values(vr, names if any(names) else [])
        return _values(vr, _split(text, vr))
    if vr in _STRUCT or vr == "AT":
        return _binary_numbers(data, vr, raw.is_little_endian)
    return None


def _values(vr: str, values: list[Any]) -> dict[str, Any]:
    return {"vr": vr, "Value": values} if values else {"vr": vr}


def _split(text: str, vr: str) -> list[Any]:
    text = text.rstrip("\0 ")
    if not text:
        return []
    parts = [text] if vr in _SINGLE else text.split("\\")
    if vr in _STRIPPED or vr in ("IS", "DS"):
        parts = [p.strip("\0 ") for p in parts]
    else:
        parts = [p.rstrip("\0 ") for p in parts]
    return [p or None for p in parts]


def person_name_json(text: str | None) -> dict[str, str] | None:
    """Split a PN value into its component groups (PS3.18 F.2.2), keeping non-empty ones.

    Trailing empty components are dropped (``"Doe^^^^"`` is ``"Doe"``, PS3.5 §6.2.1.1), and a
    name with no component at all is an empty value (``None``).
    """
    if text is None:
        return None
    groups = [g.rstrip("^ ") for g in text.split("=")]
    name = {label: g for label, g in zip(_GROUPS, groups, strict=False) if g}
    return name or None


def _binary_numbers(data: bytes, vr: str, little: bool) -> dict[str, Any] | None:
    code = "H" if vr == "AT" else _STRUCT[vr]
    size = struct.calcsize("<" + code)
    if len(data) % size:
        return None
    numbers = struct.unpack(f"{'<' if little else '>'}{len(data) // size}{code}", data)
    if vr == "AT":
        tags = [f"{g:04X}{e:04X}" for g, e in zip(numbers[::2], numbers[1::2], strict=False)]
        return _values(vr, tags)
    if vr == "FL":
        return _values(vr, [float32_json(n) for n in numbers])
    if vr == "FD":
        return _values(vr, [n if math.isfinite(n) else None for n in numbers])
    return _values(vr, list(numbers))


def number_json(text: str | None, vr: str) -> int | float | str | None:
    """IS/DS as JSON numbers when the number keeps the value exactly, else the text (CP-1861).

    ``"1.50"`` becomes ``1.5`` (same value), ``"0.1000000000000000055"`` stays a string (a double
    would change it), and legacy text such as ``"1.0"`` in an IS stays a string.
    """
    text = text.strip() if text else ""
    if not text:
        return None
    if _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if vr == "IS":
        return text
    try:
        number = float(text)
        exact = math.isfinite(number) and Decimal(text) == Decimal(repr(number))
    except (ValueError, InvalidOperation):
        return text
    return number if exact else text


def float32_json(number: float) -> float | None:
    """The shortest decimal that reads back as the same 32-bit float (``-77.20406``, not the
    ``-77.20406341552734`` of its 64-bit widening); None for NaN and infinities, which JSON
    numbers cannot carry (PS3.18 F.2.3.1)."""
    if not math.isfinite(number):
        return None
    for digits in range(6, 10):
        candidate = float(f"{number:.{digits}g}")
        if _FLOAT32.unpack(_FLOAT32.pack(candidate))[0] == number:
            return candidate
    return number
