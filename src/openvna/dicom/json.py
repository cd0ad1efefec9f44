"""The DICOM JSON Model (PS3.18 Annex F) to and from pydicom Datasets.

Everything above ``openvna.dicom`` speaks this model as plain dicts, so the conversion is done
once, here, by a small walker of our own rather than pydicom's ``to_json_dict``: the bulk data
callback needs the tag path of nested values (``"00880200/0/7FE00010"``), IS/DS values from legacy
files must not abort the conversion, and ingest calls it once per instance, so it must stay lean.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from pydicom import config
from pydicom.charset import convert_encodings, custom_encoders, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName, format_number_as_ds

from openvna.dicom.rawvalues import float32_json, number_json, person_name_json, raw_to_json
from openvna.dicom.tags import VALUE_REPRESENTATIONS
from openvna.errors import BadRequest

__all__ = ["BASE_MARKER", "BULK_THRESHOLD", "DicomJson", "dataset_to_json", "json_to_dataset"]

DicomJson = dict[str, Any]
"""A dataset in the DICOM JSON model (PS3.18 Annex F): 8-hex-digit tags to attribute objects
(``{"vr": ..., "Value": [...]}``), the one data model above ``openvna.dicom``."""

BASE_MARKER = "{openvna-base}"
"""Stands for the public DICOMweb root in stored URLs; the web layer replaces it on the way out."""

BULK_THRESHOLD = 1024
"""Binary values longer than this many bytes are given as BulkDataURI, shorter ones inline."""

BulkUri = Callable[[str], str]
BulkData = Callable[[str], bytes]

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
# Binary VRs whose raw bytes are the JSON value as they are (UN may hold a sequence: pydicom).
_FAST_BINARY_VRS = BINARY_VRS - {"UN"}
# Left out of the model: the command group and the File Meta group.
_LEFT_OUT_GROUPS = frozenset({0x0000, 0x0002})
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_INT_VRS = frozenset({"US", "SS", "UL", "SL", "SV", "UV"})
_FLOAT_VRS = frozenset({"FL", "FD"})
_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
# VRs whose text may use the Specific Character Set (PS3.5 §6.1.2.3).
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_HEX_TAG = re.compile(r"[0-9A-F]{8}")
_TAG_KEYS: dict[int, str] = {}
_MAX_TAG_KEYS = 1 << 16
_SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


# --- Dataset -> JSON ------------------------------------------------------------------------


def dataset_to_json(ds: Dataset, bulk_uri: BulkUri | None = None) -> DicomJson:
    """Encode ``ds`` as a DICOM JSON Model object (PS3.18 F.2).

    Keys are sorted tags; group lengths and the File Meta group (0002) are left out. Pixel Data
    and binary values (OB, OD, OF, OL, OV, OW, UN) longer than :data:`BULK_THRESHOLD` become
    ``BulkDataURI`` values from ``bulk_uri(tag_path)``, where the tag path is ``"7FE00010"`` or
    ``"00880200/0/7FE00010"`` (0-based item index); other binary values, or all of them when
    ``bulk_uri`` is None, are ``InlineBinary`` in little endian byte order (PS3.18 F.2.7).
    Text is decoded with the dataset's Specific Character Set (PS3.5 §6.1).
    """
    little = getattr(ds, "original_encoding", (None, True))[1] is not False
    return _dataset_json(ds, "", bulk_uri, little, _encodings(ds, [_codec_name(default_encoding)]))


def _encodings(ds: Dataset, inherited: list[str]) -> list[str]:
    """The Python codecs of a dataset or item: its own Specific Character Set or its parent's."""
    charset = ds.get(0x00080005)
    if charset is None or not charset.value:
        return inherited
    return [_codec_name(encoding) for encoding in convert_encodings(charset.value)]


def _codec_name(encoding: str) -> str:
    """The codec's own name: ``bytes.decode`` finds ``"iso8859-1"`` five times faster than
    pydicom's alias ``"iso8859"``. An unknown name is kept, to fail where it is used."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


def _tag_key(tag: int) -> str:
    """``"0020000D"`` for 0x0020000D, remembered for the next instances (a bounded number)."""
    key = f"{tag:08X}"
    if len(_TAG_KEYS) < _MAX_TAG_KEYS:
        _TAG_KEYS[tag] = key
    return key


def _dataset_json(
    ds: Dataset, prefix: str, bulk_uri: BulkUri | None, little: bool, encodings: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Tags as plain ints paired with their elements: sorting compares ints, not BaseTags.
    for tag, element in sorted(zip(map(int, ds.keys()), ds.values(), strict=True)):
        if tag >> 16 in _LEFT_OUT_GROUPS or not tag & 0xFFFF:
            continue
        key = _TAG_KEYS.get(tag) or _tag_key(tag)
        if isinstance(element, RawDataElement):
            attribute = _fast_raw(element, tag, prefix + key, bulk_uri, encodings)
            if attribute is not None:
                out[key] = attribute
                continue
            converted = ds[tag]  # what the fast path leaves, pydicom decodes
        else:
            converted = element
        if converted.VR == "SQ":
            out[key] = _sequence_json(converted, prefix + key, bulk_uri, little, encodings)
        else:
            out[key] = _attribute_json(converted, prefix + key, bulk_uri, little)
    return out


def _fast_raw(
    raw: RawDataElement, tag: int, path: str, bulk_uri: BulkUri | None, encodings: list[str]
) -> dict[str, Any] | None:
    if raw.value is None and raw.length:
        return None  # a deferred value: pydicom reads it
    vr = str(raw.VR) if raw.VR else (None if (tag >> 16) % 2 else _dict_vr(tag))
    if vr in _FAST_BINARY_VRS:
        if not raw.is_little_endian:
            return None
        return _bytes_json(raw.value, vr, tag, path, bulk_uri)
    return None if vr is None else raw_to_json(raw, vr, encodings)


def _dict_vr(tag: int) -> str | None:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


def _sequence_json(
    elem: DataElement, path: str, bulk_uri: BulkUri | None, little: bool, encodings: list[str]
) -> dict[str, Any]:
    if not elem.value:
        return {"vr": "SQ"}
    items = [
        _dataset_json(item, f"{path}/{i}/", bulk_uri, little, _encodings(item, encodings))
        for i, item in enumerate(elem.value)
    ]
    return {"vr": "SQ", "Value": items}


def _attribute_json(
    elem: DataElement, path: str, bulk_uri: BulkUri | None, little: bool
) -> dict[str, Any]:
    vr = str(elem.VR)
    if vr in BINARY_VRS or " or " in vr:
        return _binary_json(elem, path, bulk_uri, little)
    values = _values(elem.value)
    if not values:
        return {"vr": vr}
    if vr == "PN":
        converted: list[Any] = [_person_name_json(v) for v in values]
        if not any(converted):
            return {"vr": vr}
    elif vr == "AT":
        converted = [None if v is None else f"{int(v):08X}" for v in values]
    elif vr in ("IS", "DS"):
        converted = [None if v is None else number_json(str(v), vr) for v in values]
    elif vr == "FL":
        converted = [None if v is None else float32_json(v) for v in values]
    elif vr in _FLOAT_VRS:
        converted = [v if v is not None and math.isfinite(v) else None for v in values]
    elif vr in _INT_VRS:
        converted = [None if v is None else int(v) for v in values]
    else:
        converted = [None if v is None else str(v) for v in values]
    return {"vr": vr, "Value": converted}


def _values(value: Any) -> list[Any]:
    if value is None or value in ("", b""):
        return []
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [None if v == "" else v for v in items]


def _person_name_json(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    name = value if isinstance(value, PersonName) else PersonName(str(value))
    return person_name_json("=".join((name.alphabetic, name.ideographic, name.phonetic)))


def _binary_json(
    elem: DataElement, path: str, bulk_uri: BulkUri | None, little: bool
) -> dict[str, Any]:
    vr = str(elem.VR).split(" or ")[-1]
    data = elem.value
    if isinstance(data, MultiValue | list | tuple):
        data = b"".join(data)
    if not little and vr in _SWAP_WIDTH and data:
        data = _swap_bytes(data, _SWAP_WIDTH[vr])
    return _bytes_json(data, vr, elem.tag, path, bulk_uri)


def _bytes_json(
    data: bytes | None, vr: str, tag: int, path: str, bulk_uri: BulkUri | None
) -> dict[str, Any]:
    if not data:
        return {"vr": vr}
    if bulk_uri is not None and (len(data) > BULK_THRESHOLD or tag in _PIXEL_TAGS):
        return {"vr": vr, "BulkDataURI": bulk_uri(path)}
    return {"vr": vr, "InlineBinary": base64.b64encode(data).decode("ascii")}


def _swap_bytes(data: bytes, width: int) -> bytes:
    """Big endian sources: the JSON model carries binary values in little endian order."""
    return b"".join(data[i : i + width][::-1] for i in range(0, len(data), width))


# --- JSON -> Dataset ------------------------------------------------------------------------


def json_to_dataset(obj: Any, bulk_data: BulkData | None = None) -> Dataset:
    """Build a Dataset from a DICOM JSON Model object (PS3.18 F.2).

    ``bulk_data(uri)`` returns the bytes of each ``BulkDataURI``. The text in the model is
    Unicode: when it holds characters that the given Specific Character Set (0008,0005) cannot
    encode, the set becomes ``ISO_IR 192`` (UTF-8) so that writing the dataset loses nothing.

    Raises
    ------
    BadRequest
        The model is malformed (not an object, a bad tag key, a missing or wrong ``vr``, a
        ``Value`` that is not a list or has the wrong types...); the message names the tag.
    """
    texts: list[str] = []
    ds = _json_dataset(obj, "", bulk_data, texts)
    if texts and not _can_encode(texts, ds.get("SpecificCharacterSet")):
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def _bad(path: str, message: str) -> BadRequest:
    return BadRequest(f"Invalid DICOM JSON attribute {path}: {message}", attribute=path or None)


def _json_dataset(obj: Any, prefix: str, bulk_data: BulkData | None, texts: list[str]) -> Dataset:
    if not isinstance(obj, dict):
        where = f" at {prefix.rstrip('/')}" if prefix else ""
        raise BadRequest(f"Invalid DICOM JSON model{where}: a dataset must be an object")
    ds = Dataset()
    for key, attribute in obj.items():
        path = prefix + str(key)
        if not isinstance(key, str) or not _HEX_TAG.fullmatch(key.upper()):
            raise _bad(path, "the key must be 8 hexadecimal digits")
        if not isinstance(attribute, dict):
            raise _bad(path, "an attribute must be an object")
        tag = int(key, 16)
        vr = attribute.get("vr")
        if not isinstance(vr, str) or vr not in VALUE_REPRESENTATIONS:
            raise _bad(path, f"missing or invalid vr {vr!r}")
        if tag >> 16 == 0x0002 or not tag & 0xFFFF:
            continue
        element = _json_element(tag, vr, attribute, path, bulk_data, texts)
        ds[element.tag] = element
    return ds


def _json_element(
    tag: int,
    vr: str,
    attribute: dict[str, Any],
    path: str,
    bulk_data: BulkData | None,
    texts: list[str],
) -> DataElement | RawDataElement:
    present = [name for name in ("Value", "BulkDataURI", "InlineBinary") if name in attribute]
    if len(present) > 1:
        raise _bad(path, f"at most one of Value, BulkDataURI, InlineBinary, not {present}")
    if "InlineBinary" in attribute:
        return _element(tag, vr, _inline_binary(attribute["InlineBinary"], vr, path))
    if "BulkDataURI" in attribute:
        return _bulk_element(tag, vr, attribute["BulkDataURI"], path, bulk_data)
    values = attribute.get("Value", [])
    if not isinstance(values, list):
        raise _bad(path, "Value must be a list")
    if vr == "SQ":
        items = [
            _json_dataset(item, f"{path}/{i}/", bulk_data, texts) for i, item in enumerate(values)
        ]
        return DataElement(tag, vr, Sequence(items))
    converted = [_json_value(v, vr, path, texts) for v in values]
    if vr in ("IS", "DS"):
        # Kept as the text given: pydicom would refuse legacy values such as "1A" or "1.0".
        text = "\\".join(v or "" for v in converted).encode("ascii", "replace")
        return RawDataElement(BaseTag(tag), vr, len(text), text, 0, False, True)
    if vr in BINARY_VRS and converted:
        raise _bad(path, f"a {vr} value must be InlineBinary or BulkDataURI")
    return _element(tag, vr, converted[0] if len(converted) == 1 else converted)


def _element(tag: int, vr: str, value: Any) -> DataElement:
    if value == [] or value is None:
        value = None if vr in _INT_VRS | _FLOAT_VRS | {"AT"} else ""
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _inline_binary(text: Any, vr: str, path: str) -> bytes:
    if vr not in BINARY_VRS:
        raise _bad(path, f"InlineBinary is not allowed for VR {vr}")
    if not isinstance(text, str):
        raise _bad(path, "InlineBinary must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise _bad(path, f"InlineBinary is not valid base64 ({exc})") from exc


def _bulk_element(
    tag: int, vr: str, uri: Any, path: str, bulk_data: BulkData | None
) -> DataElement:
    if not isinstance(uri, str):
        raise _bad(path, "BulkDataURI must be a string")
    if bulk_data is None:
        raise _bad(path, f"no bulk data is available for BulkDataURI {uri!r}")
    data = bulk_data(uri)
    if vr in BINARY_VRS:
        return _element(tag, vr, data)
    # PS3.18 F.2.6: other VRs may be bulk too; their bytes are the little endian value field.
    raw = RawDataElement(BaseTag(tag), vr, len(data), data, 0, False, True)
    try:
        return convert_raw_data_element(raw, encoding="utf-8")
    except (BytesLengthException, ValueError) as exc:
        raise _bad(path, f"the bulk data of {uri!r} is not a {vr} value: {exc}") from exc


def _json_value(value: Any, vr: str, path: str, texts: list[str]) -> Any:
    if value is None:  # an empty value among several (PS3.18 F.2.5)
        return "" if vr in _TEXT_VRS or vr == "PN" else None
    if vr == "PN":
        return _person_name_value(value, path, texts)
    if vr == "AT":
        if not isinstance(value, str) or not _HEX_TAG.fullmatch(value.upper()):
            raise _bad(path, f"an AT value must be 8 hexadecimal digits, not {value!r}")
        return int(value, 16)
    if vr in ("IS", "DS"):
        return _number_text(value, vr, path)
    if vr in _INT_VRS or vr in _FLOAT_VRS:
        return _binary_number(value, vr, path)
    if not isinstance(value, str):
        raise _bad(path, f"a {vr} value must be a string, not {value!r}")
    if vr in _CHARSET_VRS and not value.isascii():
        texts.append(value)
    return value


def _binary_number(value: Any, vr: str, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(path, f"a {vr} value must be a number, not {value!r}")
    if vr in _INT_VRS and value != int(value):
        raise _bad(path, f"a {vr} value must be an integer, not {value!r}")
    return int(value) if vr in _INT_VRS else float(value)


def _person_name_value(value: Any, path: str, texts: list[str]) -> str:
    if isinstance(value, str):  # tolerated: some writers send a bare string
        value = {"Alphabetic": value}
    if not isinstance(value, dict) or set(value) - set(_GROUPS):
        raise _bad(path, f"a PN value must be an object with {'/'.join(_GROUPS)}, not {value!r}")
    groups = [value.get(label) or "" for label in _GROUPS]
    if not all(isinstance(g, str) for g in groups):
        raise _bad(path, "PN component groups must be strings")
    text = "=".join(groups).rstrip("=")
    if not text.isascii():
        texts.append(text)
    return text


def _number_text(value: Any, vr: str, path: str) -> str:
    """IS/DS may arrive as numbers or strings (PS3.18 F.2.3.1, CP-1861); DICOM stores text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(path, f"a {vr} value must be a number or a string, not {value!r}")
    if vr == "IS":
        if value != int(value):
            raise _bad(path, f"an IS value must be an integer, not {value!r}")
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    return text if len(text) <= 16 else format_number_as_ds(value)


def _can_encode(texts: Iterable[str], charset: Any) -> bool:
    """Answer whether the Specific Character Set can carry every one of ``texts``."""
    if not charset:
        return False
    terms = list(charset) if isinstance(charset, MultiValue | list) else [charset]
    try:
        encodings = convert_encodings(terms)
    except LookupError:
        return False
    return all(any(_encodes(ch, enc) for enc in encodings) for text in texts for ch in set(text))


def _encodes(text: str, encoding: str) -> bool:
    try:
        encoder = custom_encoders.get(encoding)
        if encoder is not None:
            encoder(text, errors="strict")
        else:
            text.encode(encoding)
    except (UnicodeError, ValueError):
        return False
    return True
