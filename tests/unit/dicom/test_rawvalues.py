"""The fast path of dataset_to_json (raw bytes to JSON values) agrees with pydicom."""

from __future__ import annotations

import math
import random
import re
import struct
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.data.data_manager import DATA_ROOT
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from openvna.dicom.json import dataset_to_json
from openvna.dicom.rawvalues import number_json

# VRs whose leading and trailing spaces are insignificant (PS3.5 Table 6.2-1): the fast path
# strips them from every value, pydicom only from the end of a multi-valued element.
_PADDED = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "LO", "SH"})


def local_sample_files() -> list[Path]:
    """pydicom's bundled DICOM files (``get_testdata_files`` would also try downloads)."""
    files = sorted((Path(DATA_ROOT) / "test_files").glob("*.dcm"))
    return files + [Path(name) for name in get_charset_files("*.dcm")]


def converted(ds: Dataset) -> Dataset:
    """``ds`` with every element, in items too, decoded by pydicom (none left raw)."""
    for tag in list(ds.keys()):
        element = ds[tag]
        if element.VR == "SQ":
            for item in element.value:
                converted(item)
    return ds


def without_padding(model: dict[str, Any]) -> dict[str, Any]:
    for attribute in model.values():
        values = attribute.get("Value")
        if attribute["vr"] == "SQ" and values:
            for item in values:
                without_padding(item)
        elif attribute["vr"] in _PADDED and values:
            attribute["Value"] = [v.strip(" \0") if isinstance(v, str) else v for v in values]
    return model


def test_fast_path_gives_pydicoms_values_for_pydicoms_test_files() -> None:
    compared = 0
    for path in local_sample_files():
        try:
            fast = pydicom.dcmread(path, stop_before_pixels=True)
            slow = converted(pydicom.dcmread(path, stop_before_pixels=True))
        except Exception:  # files that pydicom itself cannot decode
            continue
        expected = without_padding(dataset_to_json(slow, lambda tag_path: tag_path))
        model = without_padding(dataset_to_json(fast, lambda tag_path: tag_path))
        assert model == expected, path.name
        compared += 1
    assert compared >= 80


def raw_element(vr: str, data: bytes, little: bool) -> RawDataElement:
    return RawDataElement(BaseTag(0x00091010), vr, len(data), data, 0, False, little)


@pytest.mark.parametrize("little", [True, False])
@pytest.mark.parametrize(
    ("vr", "code", "values"),
    [
        ("US", "H", [512]),
        ("US", "H", [0, 1, 65535]),
        ("SS", "h", [-1024, 7]),
        ("UL", "L", [4_000_000_000]),
        ("SL", "l", [-5, 6, -7]),
        ("SV", "q", [-(2**40)]),
        ("UV", "Q", [2**60, 1]),
        ("FL", "f", [-77.20406, 0.2]),
        ("FD", "d", [1.5, float("inf"), -0.1]),
        ("AT", "HH", [0x0018, 0x1063, 0x0020, 0x0032]),
    ],
)
def test_binary_values_decode_as_pydicom_does(
    vr: str, code: str, values: list[Any], little: bool
) -> None:
    """Single and multiple values, in both byte orders, against pydicom's converted element."""
    count = len(values) // len(code)
    data = struct.pack(("<" if little else ">") + code * count, *values)
    fast, slow = Dataset(), Dataset()
    fast[0x00091010] = raw_element(vr, data, little)
    slow[0x00091010] = raw_element(vr, data, little)
    assert dataset_to_json(fast) == dataset_to_json(converted(slow))


def decimal_rule(text: str, vr: str) -> int | float | str | None:
    """The definition ``number_json`` implements: a JSON number when the double's shortest
    text has the same decimal value, else the text."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text)
    if vr == "IS":
        return text
    try:
        number = float(text)
        exact = math.isfinite(number) and Decimal(text) == Decimal(repr(number))
    except (ValueError, InvalidOperation):
        return text
    return number if exact else text


def random_number_text(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return "".join(rng.choice("0123456789.-+eE _") for _ in range(rng.randint(1, 20)))
    if choice < 0.8:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19)))
        point = rng.randint(0, len(digits))
        return rng.choice(["", "-", "+", " "]) + digits[:point] + "." + digits[point:]
    return repr(rng.uniform(-1e6, 1e6))[: rng.randint(3, 20)]


def test_number_json_keeps_exactly_the_values_a_double_keeps() -> None:
    """The shortcut for DS-sized decimals (no Decimal arithmetic) decides as the definition."""
    rng = random.Random(20240601)
    for _ in range(20_000):
        text = random_number_text(rng)
        for vr in ("DS", "IS"):
            expected = decimal_rule(text, vr)
            got = number_json(text, vr)
            assert got == expected and type(got) is type(expected), (text, vr)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-125.000000", -125.0),
        ("0.488281", 0.488281),
        ("+.5", 0.5),
        ("1234567890.12345", 1234567890.12345),
        ("0.12345678901234567", "0.12345678901234567"),  # 17 digits: a double rounds it
        ("0." + "0" * 400 + "1", "0." + "0" * 400 + "1"),  # underflows to 0.0
        ("1e400", "1e400"),
    ],
)
def test_ds_numbers_and_strings(text: str, expected: float | str) -> None:
    assert number_json(text, "DS") == expected


@pytest.mark.parametrize(
    ("vr", "data"),
    [
        ("PN", b"Doe^John^^^ "),
        ("PN", b"^^^^"),
        ("PN", b"Doe^ ^"),
        ("PN", b"Doe^ =Ideo^ =  "),
        ("PN", b"Doe^John\\Roe^Jane "),
        ("PN", b"\\Roe"),
        ("LO", b" left and right "),
        ("LO", b"one\\ two \\"),
        ("LT", b"text\\with backslashes  "),
        ("UC", b"a \\b "),
        ("UR", b"http://example.org/a b "),
        ("DA", b"20200101\x00"),
        ("IS", b" 12 \\-3"),
    ],
)
def test_text_values_decode_as_pydicom_does(vr: str, data: bytes) -> None:
    fast, slow = Dataset(), Dataset()
    fast[0x00091010] = raw_element(vr, data, True)
    slow[0x00091010] = raw_element(vr, data, True)
    model = without_padding(dataset_to_json(fast))
    assert model == without_padding(dataset_to_json(converted(slow)))
