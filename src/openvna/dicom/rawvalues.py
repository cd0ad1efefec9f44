"""Fast decoding of raw element values for the JSON model (PS3.5 §6.2, PS3.18 F.2).

``dataset_to_json`` runs once per stored instance. Letting pydicom convert every element costs
more than the rest of the conversion together, so the common cases (text in a single-byte or
UTF-8 character set, binary numbers, AT, IS/DS) are decoded here straight from the bytes read
from the file, by one function per VR looked up once. Anything else (sequences, UN, ambiguous
VRs, ISO 2022 code extensions, deferred values) returns None and goes through pydicom.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from pydicom.dataelem import RawDataElement

__all__ = ["float32_json", "number_json", "person_name_json", "raw_to_json"]

_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_FLOAT32 = struct.Struct("<f")
_DS_LENGTH = 16  # the longest DS value (PS3.5 Table 6.2-1)
# Padding removed from the whole value and from each of its values (PS3.5 §6.2).
_PAD = "\0 "

# Values of a VR from its bytes, its byte order and the character set's Python codecs; None
# when pydicom must decode them.
_Decoder = Callable[[bytes, bool, list[str]], list[Any] | None]


def raw_to_json(raw: RawDataElement, vr: str, encodings: list[str]) -> dict[str, Any] | None:
    """Encode a raw element as a JSON model attribute, or None when pydicom must decode it."""
    decode = _DECODERS.get(vr)
    if decode is None:
        return None
    data = raw.value
    if not data:
        return None if data is None and raw.length else {"vr": vr}
    values = decode(data, raw.is_little_endian, encodings)
    if values is None:
        return None
    return {"vr": vr, "Value": values} if values else {"vr": vr}


# --- text -------------------------------------------------------------------------------------


def _stripped(text: str) -> list[Any]:
    """Values whose leading and trailing spaces are insignificant (PS3.5 Table 6.2-1)."""
    text = text.rstrip(_PAD)
    if "\\" not in text:
        return [text.lstrip(_PAD)] if text else []
    return [part.strip(_PAD) or None for part in text.split("\\")]


def _trailing(text: str) -> list[Any]:
    """Values whose trailing spaces only are insignificant."""
    text = text.rstrip(_PAD)
    if "\\" not in text:
        return [text] if text else []
    return [part.rstrip(_PAD) or None for part in text.split("\\")]


def _single(text: str) -> list[Any]:
    """A single value, whose backslashes are text (LT, ST, UT, UR; PS3.5 §6.4)."""
    text = text.rstrip(_PAD)
    return [text] if text else []


def _ascii(split: Callable[[str], list[Any]]) -> _Decoder:
    """A decoder for a VR of the default repertoire (never the Specific Character Set)."""

    def decode(data: bytes, little: bool, encodings: list[str]) -> list[Any]:
        return split(data.decode("latin-1"))

    return decode


def _charset_text(data: bytes, encodings: list[str]) -> str | None:
    """Text in the one character set of the data set; None for code extensions (ISO 2022
    escape sequences, several sets), which are pydicom's job, and for undecodable bytes."""
    if len(encodings) != 1 or b"\x1b" in data:
        return None
    try:
        return data.decode(encodings[0])
    except (UnicodeDecodeError, LookupError):
        return None


def _charset(split: Callable[[str], list[Any]]) -> _Decoder:
    """A decoder for a VR that may use the Specific Character Set (PS3.5 §6.1.2.3)."""

    def decode(data: bytes, little: bool, encodings: list[str]) -> list[Any] | None:
        text = _charset_text(data, encodings)
        return None if text is None else split(text)

    return decode


def _person_names(data: bytes, little: bool, encodings: list[str]) -> list[Any] | None:
    text = _charset_text(data, encodings)
    if text is None:
        return None
    names = [person_name_json(part) for part in _trailing(text)]
    return names if any(names) else []


def person_name_json(text: str | None) -> dict[str, str] | None:
    """Split a PN value into its component groups (PS3.18 F.2.2), keeping non-empty ones.

    Trailing empty components are dropped (``"Doe^^^^"`` is ``"Doe"``, PS3.5 §6.2.1.1), and a
    name with no component at all is an empty value (``None``).
    """
    if text is None:
        return None
    if "=" not in text:  # the usual name: one alphabetic group
        alphabetic = text.rstrip("^ ")
        return {"Alphabetic": alphabetic} if alphabetic else None
    groups = [g.rstrip("^ ") for g in text.split("=")]
    name = {label: g for label, g in zip(_GROUPS, groups, strict=False) if g}
    return name or None


# --- numbers ----------------------------------------------------------------------------------


def _numbers(vr: str) -> _Decoder:
    """A decoder for IS or DS: JSON numbers where exact (see :func:`number_json`)."""

    def decode(data: bytes, little: bool, encodings: list[str]) -> list[Any]:
        return [number_json(part, vr) for part in _stripped(data.decode("latin-1"))]

    return decode


def number_json(text: str | None, vr: str) -> int | float | str | None:
    """IS/DS as JSON numbers when the number keeps the value exactly, else the text (CP-1861).

    ``"1.50"`` becomes ``1.5`` (same value), ``"0.1000000000000000055"`` stays a string (a double
    would change it), and legacy text such as ``"1.0"`` in an IS stays a string.
    """
    text = text.strip() if text else ""
    if not text:
        return None
    digits = text[1:] if text[0] in "+-" else text
    if digits.isdigit() and digits.isascii():
        return int(text)
    if vr == "IS":
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    if len(text) <= _DS_LENGTH and "e" not in text and "E" not in text:
        # A DS-sized decimal without exponent has at most 15 significant digits (16 would be an
        # integer) and lies in the normal range of doubles, so the double keeps its value
        # (C DBL_DIG = 15): the Decimal comparison below would say so, at ten times the cost.
        return number
    try:
        exact = Decimal(text) == Decimal(repr(number))
    except InvalidOperation:
        return text
    return number if exact else text


def _binary(code: str, convert: Callable[[Any], Any] | None = None) -> _Decoder:
    """A decoder for a binary VR of fixed-size values (PS3.5 Table 6.2-1), little or big
    endian, each value passed through ``convert``."""
    orders = (struct.Struct(">" + code), struct.Struct("<" + code))

    def decode(data: bytes, little: bool, encodings: list[str]) -> list[Any] | None:
        unpacker = orders[little]
        if len(data) == unpacker.size:  # the usual single value
            values = list(unpacker.unpack(data))
        elif len(data) % unpacker.size:
            return None
        else:
            values = [value for (value,) in unpacker.iter_unpack(data)]
        return values if convert is None else [convert(value) for value in values]

    return decode


def _tags(data: bytes, little: bool, encodings: list[str]) -> list[Any] | None:
    """AT values as 8 hex digits; a trailing half tag is dropped."""
    if len(data) % 2:
        return None
    pairs = _TAG_ORDERS[little].iter_unpack(data[: len(data) // 4 * 4])
    return [f"{group:04X}{element:04X}" for group, element in pairs]


def _finite(number: float) -> float | None:
    """FD values; NaN and infinities, which JSON numbers cannot carry, are empty."""
    return number if math.isfinite(number) else None


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


_TAG_ORDERS = (struct.Struct(">HH"), struct.Struct("<HH"))
_DECODERS: dict[str, _Decoder] = {
    **dict.fromkeys(("AE", "AS", "CS", "DA", "DT", "TM", "UI"), _ascii(_stripped)),
    "UR": _ascii(_single),
    **dict.fromkeys(("LO", "SH"), _charset(_stripped)),
    **dict.fromkeys(("LT", "ST", "UT"), _charset(_single)),
    "UC": _charset(_trailing),
    "PN": _person_names,
    "IS": _numbers("IS"),
    "DS": _numbers("DS"),
    "US": _binary("H"),
    "SS": _binary("h"),
    "UL": _binary("L"),
    "SL": _binary("l"),
    "SV": _binary("q"),
    "UV": _binary("Q"),
    "FL": _binary("f", float32_json),
    "FD": _binary("d", _finite),
    "AT": _tags,
}
