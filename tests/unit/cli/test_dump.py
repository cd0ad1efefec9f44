"""``openvna dump``: a file as PS3.18 JSON or PS3.19 XML, and DCMTK's dcm2json as a witness."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from pydicom.data import get_charset_files, get_testdata_file
from typer.testing import CliRunner

from openvna.cli.main import app
from openvna.dicom.xml import NATIVE_DICOM_NAMESPACE
from tests.tools import require_tools

runner = CliRunner()


def sample(name: str) -> Path:
    found = get_charset_files(name) if name.startswith("chr") else [get_testdata_file(name)]
    assert found and found[0], name
    return Path(found[0])


def test_dump_json_prints_the_model_with_file_bulk_uris() -> None:
    path = sample("CT_small.dcm")
    result = runner.invoke(app, ["dump", str(path), "--json"])
    assert result.exit_code == 0, result.output
    model = json.loads(result.stdout)
    assert model["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^CT1"}]}
    uri = path.resolve().as_uri()
    assert model["7FE00010"] == {"vr": "OW", "BulkDataURI": f"{uri}#7FE00010"}
    assert not any(key.startswith("0002") for key in model)


def test_dump_defaults_to_json_and_keeps_unicode() -> None:
    result = runner.invoke(app, ["dump", str(sample("chrH31.dcm"))])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["00100010"]["Value"][0]["Ideographic"] == "山田^太郎"
    assert "山田" in result.stdout


def test_dump_xml_prints_a_native_dicom_model_document() -> None:
    result = runner.invoke(app, ["dump", str(sample("SC_rgb_rle_2frame.dcm")), "--xml"])
    assert result.exit_code == 0, result.output
    root = fromstring(result.stdout_bytes)
    assert root.tag == f"{{{NATIVE_DICOM_NAMESPACE}}}NativeDicomModel"
    bulk = root.find(f"{{{NATIVE_DICOM_NAMESPACE}}}DicomAttribute[@tag='7FE00010']/*")
    assert bulk is not None and bulk.get("uri", "").endswith("#7FE00010")
    # One element a line, as DCMTK's dcm2xml -nat prints it.
    lines = result.stdout.splitlines()
    assert lines[2:7] == [
        '<DicomAttribute tag="00080005" vr="CS" keyword="SpecificCharacterSet">',
        '<Value number="1">ISO_IR 192</Value>',
        "</DicomAttribute>",
        '<DicomAttribute tag="00080008" vr="CS" keyword="ImageType">',
        '<Value number="1">DERIVED</Value>',
    ]
    assert lines[-1] == "</NativeDicomModel>"


def test_dump_refuses_non_dicom_with_exit_1_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = runner.invoke(app, ["dump", str(path), "--json"])
    assert result.exit_code == 1
    assert "notes.txt is not a DICOM Part 10 file" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    "arguments",
    [["dump"], ["dump", "/no/such/file.dcm"], ["dump", "--json", "--xml", "{file}"]],
)
def test_dump_usage_errors_exit_2(arguments: list[str]) -> None:
    file = str(sample("MR_small.dcm"))
    result = runner.invoke(app, [a.replace("{file}", file) for a in arguments])
    assert result.exit_code == 2


# --- DCMTK dcm2json as a witness ------------------------------------------------------------

BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}

# Files dcm2json (3.6.7) can convert: it stops at compressed Pixel Data ("InlineBinary encoding
# not supported") and cannot decode ISO 2022 IR 87 with iconv.
DCMTK_FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "test-SR.dcm",
    "waveform_ecg.dcm",
    "chrX1.dcm",
    "chrFren.dcm",
    "chrGreek.dcm",
    "chrRuss.dcm",
]


def comparable(model: dict[str, Any]) -> dict[str, Any]:
    """What both tools must agree on, with the differences we tolerate normalised away.

    - (0008,0005): dcm2json rewrites it to ISO_IR 192 (its output is UTF-8); we keep the file's
      value, since the JSON text is Unicode either way.
    - Binary values: dcm2json inlines everything, we use BulkDataURI above 1024 bytes; only the
      VR is compared.
    - IS/DS: dcm2json writes the file's text as numbers; we write exact numbers or strings;
      compared as floats.
    - FL: dcm2json prints 9 significant digits, we the shortest decimal of the 32-bit float;
      compared as 32-bit floats.
    - PN: dcm2json keeps trailing "^" and empty names; we drop them (PS3.5 §6.2.1.1).
    - Empty values: dcm2json writes "" where we write null, and [""] where we omit Value.
    - (FFFC,FFFC) Data Set Trailing Padding after Pixel Data: we stop at Pixel Data.
    """
    out: dict[str, Any] = {}
    for key, attribute in model.items():
        vr = attribute["vr"]
        if key in ("00080005", "FFFCFFFC"):
            continue
        if vr in BINARY_VRS:
            out[key] = vr
        elif vr == "SQ":
            out[key] = [comparable(item) for item in attribute.get("Value", [])]
        else:
            values = [_comparable_value(vr, v) for v in attribute.get("Value", [])]
            out[key] = (vr, values if any(v is not None for v in values) else [])
    return out


def _comparable_value(vr: str, value: Any) -> Any:
    if value in (None, ""):
        return None
    if vr in ("IS", "DS"):
        return float(value)
    if vr == "FL":
        return struct.unpack("<f", struct.pack("<f", value))[0]
    if vr == "PN":
        groups = {group: text.rstrip("^") for group, text in value.items()}
        return {group: text for group, text in groups.items() if text} or None
    return value


@pytest.mark.dcmtk
@pytest.mark.parametrize("name", DCMTK_FILES)
def test_dump_json_agrees_with_dcmtk_dcm2json(name: str) -> None:
    require_tools("dcm2json")
    path = sample(name)
    theirs = subprocess.run(
        ["dcm2json", str(path)], capture_output=True, check=True, timeout=60
    ).stdout
    result = runner.invoke(app, ["dump", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert comparable(json.loads(result.stdout)) == comparable(json.loads(theirs))
