"""The DICOM JSON Model (PS3.18 Annex F) from and to pydicom Datasets."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRBigEndian

from openvna.dicom.json import BASE_MARKER, BULK_THRESHOLD, dataset_to_json, json_to_dataset
from openvna.errors import BadRequest

ONLY_ONE_OF = {"Value", "BulkDataURI", "InlineBinary"}


def sample_path(name: str) -> str:
    found = get_charset_files(name) if name.startswith("chr") else [get_testdata_file(name)]
    assert found and found[0], name
    return str(found[0])


def raw(tag: int, vr: str | None, value: bytes, little: bool = True) -> RawDataElement:
    """An element as pydicom leaves it after reading a file: not yet converted."""
    return RawDataElement(BaseTag(tag), vr, len(value), value, 0, vr is None, little)


def model_of(*elements: RawDataElement, **kwargs: Any) -> dict[str, Any]:
    ds = Dataset()
    for element in elements:
        ds[element.tag] = element
    return dataset_to_json(ds, **kwargs)


def assert_well_formed(model: dict[str, Any]) -> None:
    """PS3.18 F.2: sorted 8-hex keys, a vr, at most one value form, no group 0002 or lengths."""
    assert list(model) == sorted(model)
    for key, attribute in model.items():
        assert len(key) == 8 and key == key.upper() and int(key, 16) >= 0
        assert not key.startswith("0002") and not key.endswith("0000")
        assert isinstance(attribute["vr"], str) and len(attribute["vr"]) == 2
        assert len(ONLY_ONE_OF & set(attribute)) <= 1
        assert set(attribute) - ONLY_ONE_OF == {"vr"}
        if attribute["vr"] == "SQ":
            for item in attribute.get("Value", []):
                assert_well_formed(item)


def test_constants_match_the_contract() -> None:
    assert BASE_MARKER == "{openvna-base}"
    assert BULK_THRESHOLD == 1024


def test_file_model_is_well_formed_and_has_no_file_meta() -> None:
    ds = pydicom.dcmread(sample_path("CT_small.dcm"))
    model = dataset_to_json(ds, lambda path: f"{BASE_MARKER}/bulk/{path}")
    assert_well_formed(model)
    assert model["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^CT1"}]}
    assert model["00080050"] == {"vr": "SH"}  # empty attribute: vr only
    assert model["00200013"] == {"vr": "IS", "Value": [1]}
    assert model["7FE00010"] == {"vr": "OW", "BulkDataURI": "{openvna-base}/bulk/7FE00010"}
    assert model["00280030"] == {"vr": "DS", "Value": [0.661468, 0.661468]}


def test_private_tags_are_kept_with_their_creators() -> None:
    ds = Dataset()
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x10, "LO", "private text")
    block.add_new(0x11, "US", 7)
    model = dataset_to_json(ds)
    assert model == {
        "00290010": {"vr": "LO", "Value": ["ACME 1.0"]},
        "00291010": {"vr": "LO", "Value": ["private text"]},
        "00291011": {"vr": "US", "Value": [7]},
    }
    back = json_to_dataset(model)
    assert back.private_block(0x0029, "ACME 1.0")[0x10].value == "private text"


def test_group_lengths_and_command_group_are_left_out() -> None:
    model = model_of(
        raw(0x00080000, "UL", b"\x04\x00\x00\x00"),
        raw(0x00000100, "US", b"\x01\x00"),
        raw(0x00080060, "CS", b"CT"),
    )
    assert model == {"00080060": {"vr": "CS", "Value": ["CT"]}}


@pytest.mark.parametrize(
    ("vr", "text", "expected"),
    [
        ("IS", b"42 ", [42]),
        ("IS", b"-7\\+3", [-7, 3]),
        ("IS", b"1.0 ", ["1.0"]),  # legacy text that is not an integer stays a string
        ("DS", b"1.50", [1.5]),
        ("DS", b"100 ", [100]),
        ("DS", b"5.e-002 ", [0.05]),
        ("DS", b"0.1000000000000000001", ["0.1000000000000000001"]),  # a double would change it
        ("DS", b"@", ["@"]),
        ("DS", b"NaN ", ["NaN"]),
        ("DS", b"1\\\\2 ", [1, None, 2]),
    ],
)
def test_is_and_ds_are_numbers_when_exact_else_strings(
    vr: str, text: bytes, expected: list[Any]
) -> None:
    assert model_of(raw(0x00181150, vr, text)) == {"00181150": {"vr": vr, "Value": expected}}


def test_is_and_ds_from_converted_elements() -> None:
    ds = Dataset()
    ds.SliceThickness = "2.50"
    ds.InstanceNumber = "12"
    ds.ImagePositionPatient = ["-1.5", "0", "3.25"]
    model = dataset_to_json(ds)
    assert model["00180050"] == {"vr": "DS", "Value": [2.5]}
    assert model["00200013"] == {"vr": "IS", "Value": [12]}
    assert model["00200032"] == {"vr": "DS", "Value": [-1.5, 0, 3.25]}


def test_at_values_are_eight_hex_digit_strings() -> None:
    ds = Dataset()
    ds.FrameIncrementPointer = [0x00181063, 0x00181065]
    assert dataset_to_json(ds)["00280009"] == {"vr": "AT", "Value": ["00181063", "00181065"]}
    raw_at = raw(0x00209165, "AT", b"\x20\x00\x32\x00")
    assert model_of(raw_at)["00209165"] == {"vr": "AT", "Value": ["00200032"]}
    assert json_to_dataset(dataset_to_json(ds)).FrameIncrementPointer == [0x00181063, 0x00181065]


def test_binary_numbers_little_and_big_endian() -> None:
    assert model_of(raw(0x00280010, "US", b"\x00\x02"))["00280010"]["Value"] == [512]
    big = raw(0x00280010, "US", b"\x00\x02", little=False)
    assert model_of(big)["00280010"]["Value"] == [2]
    assert model_of(raw(0x00281052, "SS", b"\x00\xfc"))["00281052"]["Value"] == [-1024]
    floats = raw(0x00189087, "FL", b"\x00\x00\xc0\x3f" + b"\xcd\xcc\x4c\x3e")
    assert model_of(floats)["00189087"]["Value"] == [1.5, 0.2]  # shortest 32-bit decimal
    nan = raw(0x00189087, "FD", b"\x00\x00\x00\x00\x00\x00\xf8\x7f")
    assert model_of(nan)["00189087"]["Value"] == [None]  # JSON numbers cannot be NaN


def test_empty_values_and_empty_items() -> None:
    ds = Dataset()
    ds.ImageType = ["ORIGINAL", "", "AXIAL"]
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.ReferencedStudySequence = Sequence()
    ds.ReferencedSeriesSequence = Sequence([Dataset(), Dataset()])
    model = dataset_to_json(ds)
    assert model["00080008"] == {"vr": "CS", "Value": ["ORIGINAL", None, "AXIAL"]}
    assert model["00080050"] == {"vr": "SH"}
    assert model["00080090"] == {"vr": "PN"}
    assert model["00081110"] == {"vr": "SQ"}
    assert model["00081115"] == {"vr": "SQ", "Value": [{}, {}]}
    assert dataset_to_json(json_to_dataset(model)) == model


def test_person_name_groups() -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    ds.ReferringPhysicianName = "=山田^太郎"
    ds.PerformingPhysicianName = ["Doe^John^^^", "Roe^Jane"]
    model = dataset_to_json(ds)
    assert model["00100010"]["Value"] == [
        {"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}
    ]
    assert model["00080090"]["Value"] == [{"Ideographic": "山田^太郎"}]
    assert model["00081050"]["Value"] == [{"Alphabetic": "Doe^John"}, {"Alphabetic": "Roe^Jane"}]
    back = json_to_dataset(model)
    assert str(back.PatientName) == "Yamada^Tarou=山田^太郎=やまだ^たろう"
    assert str(back.ReferringPhysicianName) == "=山田^太郎"


def test_japanese_iso_2022_ir_87_is_decoded() -> None:
    model = dataset_to_json(pydicom.dcmread(sample_path("chrH31.dcm")))
    assert model["00080005"] == {"vr": "CS", "Value": [None, "ISO 2022 IR 87"]}
    assert model["00100010"]["Value"] == [
        {"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chrX1.dcm", {"Alphabetic": "Wang^XiaoDong", "Ideographic": "王^小東"}),
        ("chrFren.dcm", {"Alphabetic": "Buc^Jérôme"}),
        ("chrGreek.dcm", {"Alphabetic": "Διονυσιος"}),
        ("chrRuss.dcm", {"Alphabetic": "Люкceмбypг"}),
    ],
)
def test_character_sets_are_decoded(name: str, expected: dict[str, str]) -> None:
    assert dataset_to_json(pydicom.dcmread(sample_path(name)))["00100010"]["Value"] == [expected]


def test_escape_sequences_with_a_single_character_set_are_decoded() -> None:
    ds = pydicom.dcmread(sample_path("chrI2.dcm"))
    ds.SpecificCharacterSet = "ISO 2022 IR 149"  # one term, but the text has escape sequences
    assert dataset_to_json(ds)["00100010"]["Value"] == [
        {"Alphabetic": "Hong^Gildong", "Ideographic": "洪^吉洞", "Phonetic": "홍^길동"}
    ]


def test_sequence_items_use_their_own_character_set() -> None:
    model = dataset_to_json(pydicom.dcmread(sample_path("chrSQEncoding.dcm")))
    item = model["00321064"]["Value"][0]
    assert item["00080005"]["Value"] == ["ISO 2022 IR 13", "ISO 2022 IR 87"]
    assert item["00100010"]["Value"] == [
        {"Alphabetic": "ﾔﾏﾀﾞ^ﾀﾛｳ", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}
    ]


def nested_binary_dataset() -> Dataset:
    icon = Dataset()
    icon.PixelData = b"\x01\x02"
    big_icon = Dataset()
    big_icon.PixelData = b"\x00" * 2000
    ds = Dataset()
    ds.IconImageSequence = Sequence([icon, big_icon])
    ds.add_new(0x00420011, "OB", b"\x05" * BULK_THRESHOLD)  # Encapsulated Document
    ds.add_new(0x00287FE0, "UR", "https://example.org/x")
    ds.add_new(0x00660023, "OF", b"\x00\x00\x80\x3f" * 300)  # 1200 bytes
    return ds


def test_bulk_data_uri_gets_the_tag_path() -> None:
    paths: list[str] = []

    def bulk_uri(path: str) -> str:
        paths.append(path)
        return f"{BASE_MARKER}/studies/1/series/2/instances/3/bulkdata/{path}"

    model = dataset_to_json(nested_binary_dataset(), bulk_uri)
    assert paths == ["00660023", "00880200/0/7FE00010", "00880200/1/7FE00010"]
    icons = model["00880200"]["Value"]
    assert icons[0]["7FE00010"]["BulkDataURI"].endswith("/bulkdata/00880200/0/7FE00010")
    assert icons[1]["7FE00010"] == {
        "vr": "OW",
        "BulkDataURI": "{openvna-base}/studies/1/series/2/instances/3/bulkdata/00880200/1/7FE00010",
    }
    # exactly BULK_THRESHOLD bytes: still inline
    assert model["00420011"] == {
        "vr": "OB",
        "InlineBinary": base64.b64encode(b"\x05" * BULK_THRESHOLD).decode(),
    }


def test_without_bulk_uri_every_binary_value_is_inline() -> None:
    model = dataset_to_json(nested_binary_dataset())
    assert model["00880200"]["Value"][1]["7FE00010"]["InlineBinary"] == base64.b64encode(
        b"\x00" * 2000
    ).decode("ascii")
    assert "InlineBinary" in model["00660023"]


def test_inline_binary_is_little_endian_for_big_endian_files() -> None:
    ds = Dataset()
    ds.SOPClassUID = "1.2.3"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.add_new(0x00281201, "OW", b"\x01\x02\x03\x04")  # Red Palette LUT Data: 0x0102, 0x0304
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    model = dataset_to_json(pydicom.dcmread(io.BytesIO(buffer.getvalue())))
    assert base64.b64decode(model["00281201"]["InlineBinary"]) == b"\x02\x01\x04\x03"


def test_round_trip_dataset_json_dataset() -> None:
    for name in ("CT_small.dcm", "MR_small_implicit.dcm", "rtplan.dcm", "test-SR.dcm"):
        model = dataset_to_json(pydicom.dcmread(sample_path(name)))
        again = dataset_to_json(json_to_dataset(json.loads(json.dumps(model))))
        assert again == model, name


def test_json_to_dataset_reads_bulk_data_through_the_callback() -> None:
    asked: list[str] = []

    def bulk_data(uri: str) -> bytes:
        asked.append(uri)
        return b"\x00\x00\x00\x00\x00\x00\xf8\x3f" if uri.endswith("87") else b"\x01\x02\x03\x04"

    model = {
        "00281201": {"vr": "OW", "BulkDataURI": "http://x/bulk/00281201"},
        "00189087": {"vr": "FD", "BulkDataURI": "http://x/bulk/00189087"},
        "00420011": {"vr": "OB", "InlineBinary": base64.b64encode(b"%PDF").decode()},
    }
    ds = json_to_dataset(model, bulk_data)
    assert sorted(asked) == ["http://x/bulk/00189087", "http://x/bulk/00281201"]
    assert ds[0x00281201].value == b"\x01\x02\x03\x04"
    assert ds[0x00189087].value == 1.5
    with pytest.raises(BadRequest, match="is not a FD value"):
        json_to_dataset(model, lambda uri: b"\x01\x02\x03")
    assert ds[0x00420011].value == b"%PDF"
    assert ds[0x00189087].VR == "FD"


def test_json_to_dataset_keeps_number_strings_and_formats_numbers() -> None:
    model = {
        "00200013": {"vr": "IS", "Value": ["1A"]},
        "00180050": {"vr": "DS", "Value": [0.30000000000000004]},
        "00200032": {"vr": "DS", "Value": [1, "2.50", None, 1e-7]},
        "00201206": {"vr": "IS", "Value": [2.0]},
    }
    again = dataset_to_json(json_to_dataset(model))
    assert again["00200013"] == {"vr": "IS", "Value": ["1A"]}
    assert again["00201206"] == {"vr": "IS", "Value": [2]}
    assert again["00200032"] == {"vr": "DS", "Value": [1, 2.5, None, 1e-7]}
    assert len(str(json_to_dataset(model)[0x00180050].value)) <= 16


@pytest.mark.parametrize(
    ("charset", "name", "expected"),
    [
        (None, "Doe^John", None),
        (None, "Müller^Hans", "ISO_IR 192"),
        ("ISO_IR 100", "Müller^Hans", "ISO_IR 100"),
        ("ISO_IR 100", "山田^太郎", "ISO_IR 192"),
        (["", "ISO 2022 IR 87"], "山田^太郎", ["", "ISO 2022 IR 87"]),
        ("ISO_IR 192", "山田^太郎", "ISO_IR 192"),
    ],
)
def test_json_to_dataset_sets_utf8_only_when_needed(
    charset: str | list[str] | None, name: str, expected: str | list[str] | None
) -> None:
    model: dict[str, Any] = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]}}
    if charset is not None:
        values = charset if isinstance(charset, list) else [charset]
        model["00080005"] = {"vr": "CS", "Value": values}
    ds = json_to_dataset(model)
    assert ds.get("SpecificCharacterSet") == expected
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.3", "1.2.3.4"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    assert str(pydicom.dcmread(io.BytesIO(buffer.getvalue())).PatientName) == name


@pytest.mark.parametrize(
    ("model", "culprit"),
    [
        ([], "must be an object"),
        ({"0010001G": {"vr": "PN"}}, "0010001G"),
        ({"00100010": "Doe"}, "00100010"),
        ({"00100010": {"Value": ["x"]}}, "00100010: missing or invalid vr"),
        ({"00100010": {"vr": "XX"}}, "00100010: missing or invalid vr 'XX'"),
        ({"00100020": {"vr": "LO", "Value": "x"}}, "00100020: Value must be a list"),
        ({"00100020": {"vr": "LO", "Value": [1]}}, "00100020: a LO value must be a string"),
        ({"00280010": {"vr": "US", "Value": ["512"]}}, "00280010: a US value must be a number"),
        ({"00280010": {"vr": "US", "Value": [1.5]}}, "must be an integer"),
        ({"00280009": {"vr": "AT", "Value": ["0018106"]}}, "00280009: an AT value"),
        ({"00100010": {"vr": "PN", "Value": [{"Family": "x"}]}}, "00100010: a PN value"),
        ({"00420011": {"vr": "OB", "InlineBinary": "***"}}, "not valid base64"),
        ({"00420011": {"vr": "OB", "Value": ["x"]}}, "must be InlineBinary or BulkDataURI"),
        ({"00100020": {"vr": "LO", "InlineBinary": "AAAA"}}, "not allowed for VR LO"),
        ({"00420011": {"vr": "OB", "BulkDataURI": "u"}}, "no bulk data is available"),
        (
            {"00420011": {"vr": "OB", "InlineBinary": "AAAA", "BulkDataURI": "u"}},
            "at most one of",
        ),
        ({"00081115": {"vr": "SQ", "Value": [{}, "x"]}}, "at 00081115/1: a dataset"),
        (
            {"00081115": {"vr": "SQ", "Value": [{"00200032": {"vr": "DS", "Value": [True]}}]}},
            "00081115/0/00200032",
        ),
    ],
)
def test_malformed_models_raise_bad_request_naming_the_tag(model: Any, culprit: str) -> None:
    with pytest.raises(BadRequest) as caught:
        json_to_dataset(model)
    assert culprit in caught.value.message
