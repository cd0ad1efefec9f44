"""The Native DICOM Model (PS3.19 Annex A.1) as an encoding of the DICOM JSON Model.

XML is only a second spelling of the JSON model (PS3.18 Annex F), so this module converts the
dicts ``openvna.dicom.json`` produces to one ``NativeDicomModel`` document and back. Private
attributes differ between the two: JSON keeps the block (``00291010`` plus creator ``00290010``)
while XML strips it (``tag="00290010"`` plus ``privateCreator="..."``, PS3.19 A.1.1). Private
Creator elements are written too, so that reading our own XML restores the same blocks; XML from
elsewhere without them gets each creator the first free block.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from openvna.dicom.json import DicomJson
from openvna.dicom.rawvalues import number_json
from openvna.dicom.tags import VALUE_REPRESENTATIONS, keyword_of, vr_of
from openvna.errors import BadRequest

__all__ = ["NATIVE_DICOM_NAMESPACE", "json_to_xml", "xml_to_json"]

NATIVE_DICOM_NAMESPACE = "http://dicom.nema.org/PS3.19/models/NativeDICOM"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
_INT_VRS = frozenset({"US", "SS", "UL", "SL", "SV", "UV"})
_HEX_TAG = re.compile(r"[0-9A-Fa-f]{8}")


def _is_creator(tag: int) -> bool:
    return bool((tag >> 16) % 2) and 0x0010 <= tag & 0xFFFF <= 0x00FF


def _is_private_data(tag: int) -> bool:
    return bool((tag >> 16) % 2) and tag & 0xFFFF > 0x00FF


# --- JSON -> XML ----------------------------------------------------------------------------

# XML 1.0 cannot carry these even as character references (XML 1.0 §2.2).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#9;",
    }
)


def json_to_xml(obj: DicomJson, *, lines: bool = False) -> bytes:
    """Encode one JSON model dataset as a ``NativeDicomModel`` document in UTF-8 (PS3.19 A.1).

    Written by hand rather than with ElementTree so that carriage returns in text survive
    (as ``&#13;``; a parser would turn a literal CR LF into LF) and output stays fast.
    ``lines`` puts each element on a line of its own, as DCMTK's ``dcm2xml -nat`` does, for
    people to read; whitespace between elements carries nothing in this model, and text inside
    a ``Value`` is never touched.
    """
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<NativeDicomModel xmlns="{NATIVE_DICOM_NAMESPACE}" xml:space="preserve">',
    ]
    _dataset_xml(parts, obj)
    parts.append("</NativeDicomModel>")
    if lines:
        return ("\n".join(parts) + "\n").encode("utf-8")
    return (parts[0] + "\n" + "".join(parts[1:]) + "\n").encode("utf-8")


def _text(value: str) -> str:
    return _FORBIDDEN.sub("\ufffd", value).translate(_TEXT_ESCAPES)


def _attr(value: str) -> str:
    return _FORBIDDEN.sub("\ufffd", value).translate(_ATTR_ESCAPES)


def _dataset_xml(parts: list[str], obj: dict[str, Any]) -> None:
    creators = {
        int(key, 16): attribute["Value"][0]
        for key, attribute in obj.items()
        if _is_creator(int(key, 16)) and attribute.get("Value") and attribute["Value"][0]
    }
    for key in sorted(obj):
        attribute = obj[key]
        parts.append(f"<DicomAttribute {_xml_attributes(int(key, 16), attribute, creators)}>")
        _attribute_xml(parts, attribute)
        parts.append("</DicomAttribute>")


def _xml_attributes(tag: int, attribute: dict[str, Any], creators: dict[int, str]) -> str:
    vr = attribute["vr"]
    creator = None
    if _is_private_data(tag):
        creator = creators.get((tag & 0xFFFF0000) | (tag >> 8 & 0xFF))
    if creator is not None:
        return (
            f'tag="{tag >> 16:04X}00{tag & 0xFF:02X}" vr="{vr}" privateCreator="{_attr(creator)}"'
        )
    keyword = keyword_of(tag)
    names = f'tag="{tag:08X}" vr="{vr}"'
    return f'{names} keyword="{keyword}"' if keyword else names


def _attribute_xml(parts: list[str], attribute: dict[str, Any]) -> None:
    if "BulkDataURI" in attribute:
        parts.append(f'<BulkData uri="{_attr(attribute["BulkDataURI"])}"/>')
        return
    if "InlineBinary" in attribute:
        parts.append(f"<InlineBinary>{_text(str(attribute['InlineBinary']))}</InlineBinary>")
        return
    vr = attribute["vr"]
    for number, value in enumerate(attribute.get("Value", []), start=1):
        if vr == "SQ":
            parts.append(f'<Item number="{number}">')
            _dataset_xml(parts, value or {})
            parts.append("</Item>")
        elif vr == "PN":
            parts.append(f'<PersonName number="{number}">')
            _person_name_xml(parts, value)
            parts.append("</PersonName>")
        elif value is None:
            parts.append(f'<Value number="{number}"/>')
        else:
            parts.append(f'<Value number="{number}">{_text(str(value))}</Value>')


def _person_name_xml(parts: list[str], value: dict[str, str] | None) -> None:
    for group in _GROUPS:
        text = (value or {}).get(group)
        if not text:
            continue
        parts.append(f"<{group}>")
        for name, component in zip(_COMPONENTS, text.split("^"), strict=False):
            parts.append(f"<{name}>{_text(component)}</{name}>" if component else f"<{name}/>")
        parts.append(f"</{group}>")


# --- XML -> JSON ----------------------------------------------------------------------------


def xml_to_json(data: bytes) -> DicomJson:
    """Decode a ``NativeDicomModel`` document into a JSON model dataset (PS3.19 A.1).

    The parser refuses DTDs and entities (defusedxml). A missing ``vr`` is taken from the data
    dictionary; private attributes get the block of their creator, or the first free block.

    Raises
    ------
    BadRequest
        The bytes are not well-formed XML or not a Native DICOM Model; the message says where.
    """
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise BadRequest(f"Malformed DICOM XML: {exc}") from exc
    except (LookupError, ValueError) as exc:  # a declared encoding expat cannot read
        raise BadRequest(f"Malformed DICOM XML: {exc}") from exc
    if _local(root.tag) != "NativeDicomModel":
        raise BadRequest(f"DICOM XML root element is {_local(root.tag)!r}, not NativeDicomModel")
    return _dataset_json(root, "")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def _dataset_json(node: ET.Element, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    attributes = _children(node, "DicomAttribute")
    blocks: dict[tuple[int, str], int] = {}
    for element in attributes:  # explicit Private Creator attributes keep their block
        tag = _tag(element, prefix)
        if _is_creator(tag) and element.get("privateCreator") is None:
            values = _children(element, "Value")
            if values and values[0].text:
                blocks[(tag >> 16, values[0].text.strip())] = tag & 0xFF
    for element in attributes:
        tag = _tag(element, prefix)
        creator = element.get("privateCreator")
        if creator is not None and (tag >> 16) % 2:
            tag = _private_tag(tag, creator.strip(), blocks, out)
        path = f"{prefix}{tag:08X}"
        vr = element.get("vr") or vr_of(tag)
        if vr not in VALUE_REPRESENTATIONS:
            raise BadRequest(f"Invalid DICOM XML attribute {path}: bad vr {vr!r}", attribute=path)
        out[f"{tag:08X}"] = _attribute_json(element, vr, path)
    return dict(sorted(out.items()))


def _tag(element: ET.Element, prefix: str) -> int:
    text = element.get("tag")
    if text is None or not _HEX_TAG.fullmatch(text):
        where = f" in {prefix.rstrip('/')}" if prefix else ""
        raise BadRequest(f"DicomAttribute{where} has a missing or bad tag {text!r}")
    return int(text, 16)


def _private_tag(
    tag: int, creator: str, blocks: dict[tuple[int, str], int], out: dict[str, Any]
) -> int:
    """Put a block-stripped private tag back in its creator's block (PS3.5 §7.8.1)."""
    group = tag >> 16
    block = blocks.get((group, creator))
    if block is None:
        used = {b for (g, _), b in blocks.items() if g == group}
        free = [b for b in range(0x10, 0x100) if b not in used]
        if not free:
            raise BadRequest(f"No free private block in group {group:04X} for {creator!r}")
        block = blocks[(group, creator)] = free[0]
    out[f"{group:04X}00{block:02X}"] = {"vr": "LO", "Value": [creator]}
    return group << 16 | block << 8 | tag & 0xFF


def _attribute_json(element: ET.Element, vr: str, path: str) -> dict[str, Any]:
    bulk = _children(element, "BulkData")
    if bulk:
        uri = bulk[0].get("uri") or (bulk[0].get("uuid") and f"urn:uuid:{bulk[0].get('uuid')}")
        if not uri:
            raise BadRequest(f"BulkData of {path} has neither uri nor uuid", attribute=path)
        return {"vr": vr, "BulkDataURI": uri}
    inline = _children(element, "InlineBinary")
    if inline:
        return {"vr": vr, "InlineBinary": "".join((inline[0].text or "").split())}
    if vr == "SQ":
        items = _numbered(element, "Item", path)
        values: list[Any] = [_dataset_json(item, f"{path}/{i}/") for i, item in enumerate(items)]
    elif vr == "PN":
        values = [_person_name_json(name) for name in _numbered(element, "PersonName", path)]
    else:
        values = [_value_json(v.text, vr, path) for v in _numbered(element, "Value", path)]
    return {"vr": vr, "Value": values} if values else {"vr": vr}


def _numbered(element: ET.Element, name: str, path: str) -> list[ET.Element]:
    """Children in the order of their 1-based ``number`` attribute (PS3.19 A.1.1)."""
    children = _children(element, name)
    try:
        keys = [int(child.get("number") or position) for position, child in enumerate(children, 1)]
    except ValueError as exc:
        raise BadRequest(f"{name} of {path} has a bad number attribute", attribute=path) from exc
    return [child for _, child in sorted(zip(keys, children, strict=True), key=lambda p: p[0])]


def _person_name_json(node: ET.Element) -> dict[str, str] | None:
    groups = {}
    for group in _GROUPS:
        found = _children(node, group)
        if not found:
            continue
        parts = [found[0].find(f"{{*}}{name}") for name in _COMPONENTS]
        texts = [(p.text or "") if p is not None else "" for p in parts]
        text = "^".join(texts).rstrip("^")
        if text:
            groups[group] = text
    return groups or None


def _value_json(text: str | None, vr: str, path: str) -> Any:
    if text is None or text == "":
        return None
    if vr in ("IS", "DS"):
        return number_json(text, vr)
    try:
        if vr in _INT_VRS:
            return int(text.strip())
        if vr in ("FL", "FD"):
            return float(text.strip())
    except ValueError as exc:
        raise BadRequest(f"{path}: {text!r} is not a {vr} number", attribute=path) from exc
    if vr == "AT" and not _HEX_TAG.fullmatch(text.strip()):
        raise BadRequest(f"{path}: {text!r} is not an AT value (8 hex digits)", attribute=path)
    return text.strip().upper() if vr == "AT" else text
