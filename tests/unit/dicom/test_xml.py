"""The Native DICOM Model (PS3.19 A.1) as an encoding of the JSON model, both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from defusedxml.ElementTree import fromstring
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from openvna.dicom.json import dataset_to_json
from openvna.dicom.xml import NATIVE_DICOM_NAMESPACE, json_to_xml, xml_to_json
from openvna.errors import BadRequest

DATA = Path(__file__).parents[2] / "data" / "dicom"
NS = {"d": NATIVE_DICOM_NAMESPACE}


def golden_dataset() -> Dataset:
    """A small dataset with every shape the models distinguish; tests/data/dicom holds its
    JSON and XML, checked by hand against PS3.18 F.2 and PS3.19 A.1."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "", "AXIAL"]
    ds.AccessionNumber = ""
    ds.PatientName = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    ds.ReferringPhysicianName = "Doe^John^^Dr"
    ds.PatientID = 'ID <&> "1"'
    ds.StudyInstanceUID = "1.2.3"
    ds.InstanceNumber = "7"
    ds.SliceThickness = "2.50"
    ds.Rows = 512
    ds.FrameIncrementPointer = 0x00181063
    ds.ImageComments = "line 1\r\nline 2"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    ds.ReferencedStudySequence = Sequence()
    ds.add_new(0x00420011, "OB", b"%PDF")
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x10, "LO", "private")
    block.add_new(0x11, "SQ", Sequence([Dataset()]))
    return ds


def golden_json() -> dict[str, Any]:
    return json.loads((DATA / "golden_model.json").read_text(encoding="utf-8"))


def test_golden_dataset_gives_the_golden_json() -> None:
    assert dataset_to_json(golden_dataset()) == golden_json()


def test_golden_json_gives_the_golden_xml_and_back() -> None:
    xml = (DATA / "golden_model.xml").read_bytes()
    assert json_to_xml(golden_json()) == xml
    assert xml_to_json(xml) == golden_json()


def test_document_structure() -> None:
    root = fromstring(json_to_xml(golden_json()))
    assert root.tag == f"{{{NATIVE_DICOM_NAMESPACE}}}NativeDicomModel"
    assert root.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
    attribute = root.find("d:DicomAttribute[@tag='00080008']", NS)
    assert attribute is not None
    assert attribute.attrib == {"tag": "00080008", "vr": "CS", "keyword": "ImageType"}
    values = attribute.findall("d:Value", NS)
    assert [(v.get("number"), v.text) for v in values] == [
        ("1", "ORIGINAL"),
        ("2", None),
        ("3", "AXIAL"),
    ]
    empty = root.find("d:DicomAttribute[@tag='00080050']", NS)
    assert empty is not None and len(empty) == 0


def test_person_name_components() -> None:
    root = fromstring(json_to_xml(golden_json()))
    name = root.find("d:DicomAttribute[@tag='00100010']/d:PersonName[@number='1']", NS)
    assert name is not None
    assert [group.tag.split("}")[1] for group in name] == ["Alphabetic", "Ideographic", "Phonetic"]
    ideographic = name.find("d:Ideographic", NS)
    assert ideographic is not None
    assert [(c.tag.split("}")[1], c.text) for c in ideographic] == [
        ("FamilyName", "山田"),
        ("GivenName", "太郎"),
    ]
    doctor = root.find("d:DicomAttribute[@tag='00080090']/d:PersonName/d:Alphabetic", NS)
    assert doctor is not None
    assert [c.text for c in doctor] == ["Doe", "John", None, "Dr"]


def test_private_attributes_have_the_block_stripped_and_a_creator() -> None:
    root = fromstring(json_to_xml(golden_json()))
    private = root.findall("d:DicomAttribute[@privateCreator='ACME 1.0']", NS)
    assert [(p.get("tag"), p.get("vr"), p.get("keyword")) for p in private] == [
        ("00290010", "LO", None),
        ("00290011", "SQ", None),
    ]
    creator = root.find("d:DicomAttribute[@tag='00290010'][@vr='LO']/d:Value", NS)
    assert creator is not None and creator.text == "ACME 1.0"


def foreign_private(creators: str = "") -> bytes:
    return (
        f'<NativeDicomModel xmlns="{NATIVE_DICOM_NAMESPACE}">{creators}'
        '<DicomAttribute tag="00290010" vr="LO" privateCreator="ACME"><Value number="1">a'
        "</Value></DicomAttribute>"
        '<DicomAttribute tag="00290020" vr="US" privateCreator="OTHER"><Value number="1">5'
        "</Value></DicomAttribute>"
        '<DicomAttribute tag="00290030" vr="LO" privateCreator="ACME"><Value number="1">b'
        "</Value></DicomAttribute></NativeDicomModel>"
    ).encode()


def test_private_blocks_are_allocated_from_0x10() -> None:
    assert xml_to_json(foreign_private()) == {
        "00290010": {"vr": "LO", "Value": ["ACME"]},
        "00290011": {"vr": "LO", "Value": ["OTHER"]},
        "00291010": {"vr": "LO", "Value": ["a"]},
        "00291030": {"vr": "LO", "Value": ["b"]},
        "00291120": {"vr": "US", "Value": [5]},
    }


def test_private_blocks_of_explicit_creators_are_reused() -> None:
    creator = (
        '<DicomAttribute tag="00290042" vr="LO"><Value number="1">ACME</Value></DicomAttribute>'
    )
    model = xml_to_json(foreign_private(creator))
    assert model["00290042"] == {"vr": "LO", "Value": ["ACME"]}
    assert model["00294210"] == {"vr": "LO", "Value": ["a"]}
    assert model["00294230"] == {"vr": "LO", "Value": ["b"]}
    assert model["00290010"] == {"vr": "LO", "Value": ["OTHER"]}
    assert model["00291020"] == {"vr": "US", "Value": [5]}


def test_values_are_typed_by_vr_and_missing_vr_comes_from_the_dictionary() -> None:
    document = (
        b"<NativeDicomModel>"
        b'<DicomAttribute tag="00280010"><Value number="1">512</Value></DicomAttribute>'
        b'<DicomAttribute tag="00200013" vr="IS"><Value number="1"> 12 </Value></DicomAttribute>'
        b'<DicomAttribute tag="00200032" vr="DS"><Value number="2">2.5</Value>'
        b'<Value number="1">-1</Value><Value number="3"/></DicomAttribute>'
        b'<DicomAttribute tag="00189087" vr="FD"><Value number="1">1e3</Value></DicomAttribute>'
        b'<DicomAttribute tag="00280009" vr="AT"><Value number="1">0018106a</Value>'
        b"</DicomAttribute>"
        b'<DicomAttribute tag="7FE00010" vr="OB"><BulkData uri="http://x/b"/></DicomAttribute>'
        b'<DicomAttribute tag="00420011" vr="OB"><InlineBinary>JVBE\nRg==</InlineBinary>'
        b"</DicomAttribute></NativeDicomModel>"
    )
    assert xml_to_json(document) == {
        "00189087": {"vr": "FD", "Value": [1000.0]},
        "00200013": {"vr": "IS", "Value": [12]},
        "00200032": {"vr": "DS", "Value": [-1, 2.5, None]},
        "00280009": {"vr": "AT", "Value": ["0018106A"]},
        "00280010": {"vr": "US", "Value": [512]},
        "00420011": {"vr": "OB", "InlineBinary": "JVBERg=="},
        "7FE00010": {"vr": "OB", "BulkDataURI": "http://x/b"},
    }


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "test-SR.dcm", "rtplan.dcm", "chrH31.dcm", "chrSQEncoding.dcm"]
)
def test_json_xml_json_round_trip(name: str) -> None:
    path = get_charset_files(name)[0] if name.startswith("chr") else get_testdata_file(name)
    model = dataset_to_json(pydicom.dcmread(path), lambda tag_path: f"http://x/{tag_path}")
    assert xml_to_json(json_to_xml(model)) == model
    assert xml_to_json(json_to_xml(model, lines=True)) == model


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<NativeDicomModel>", "Malformed DICOM XML"),
        (b"not xml", "Malformed DICOM XML"),
        (b"<Other/>", "root element is 'Other'"),
        (
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><NativeDicomModel>&a;</NativeDicomModel>',
            "Malformed DICOM XML",
        ),
        (b"<NativeDicomModel><DicomAttribute vr='LO'/></NativeDicomModel>", "missing or bad tag"),
        (b"<NativeDicomModel><DicomAttribute tag='0010'/></NativeDicomModel>", "bad tag '0010'"),
        (
            b"<NativeDicomModel><DicomAttribute tag='00100020' vr='lo'/></NativeDicomModel>",
            "00100020: bad vr 'lo'",
        ),
        (
            b"<NativeDicomModel><DicomAttribute tag='00100020' vr='XX'/></NativeDicomModel>",
            "00100020: bad vr 'XX'",
        ),
        (
            b"<NativeDicomModel><DicomAttribute tag='00280010' vr='US'>"
            b"<Value number='1'>big</Value></DicomAttribute></NativeDicomModel>",
            "00280010: 'big' is not a US number",
        ),
        (
            b"<NativeDicomModel><DicomAttribute tag='00100020' vr='LO'>"
            b"<Value number='one'>x</Value></DicomAttribute></NativeDicomModel>",
            "Value of 00100020 has a bad number",
        ),
        (
            b"<NativeDicomModel><DicomAttribute tag='00081115' vr='SQ'><Item number='1'>"
            b"<DicomAttribute tag='00280009' vr='AT'><Value number='1'>x</Value>"
            b"</DicomAttribute></Item></DicomAttribute></NativeDicomModel>",
            "00081115/0/00280009",
        ),
        (
            b"<NativeDicomModel><DicomAttribute tag='7FE00010' vr='OB'><BulkData/>"
            b"</DicomAttribute></NativeDicomModel>",
            "neither uri nor uuid",
        ),
    ],
)
def test_malformed_documents_raise_bad_request(document: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        xml_to_json(document)
    assert message in caught.value.message


def test_control_characters_that_xml_cannot_carry_are_replaced() -> None:
    model = {"00204000": {"vr": "LT", "Value": ["bell\x07 tab\t cr\r"]}}
    assert xml_to_json(json_to_xml(model)) == {
        "00204000": {"vr": "LT", "Value": ["bell\ufffd tab\t cr\r"]}
    }
