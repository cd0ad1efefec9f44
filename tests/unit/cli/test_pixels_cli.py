"""``openvna render``, ``openvna transcode`` and ``openvna uid`` (issue 14 item 5, seed 003's
dcm2jpg): outputs opened by Pillow, pydicom and DCMTK; bad input is exit 1 or 2 with a line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from typer.testing import CliRunner

from openvna.cli.main import app
from tests.tools import require_tools
from tests.unit.render.images import dataset, gray, in_syntax

runner = CliRunner()
CT = get_testdata_file("CT_small.dcm")


def _written(tmp_path: Path, pixels: np.ndarray, syntax: str, **attributes: object) -> Path:
    path = tmp_path / "in.dcm"
    in_syntax(dataset(pixels, **attributes), syntax).save_as(path, enforce_file_format=True)
    return path


def test_render_png_with_window_frame_and_size(tmp_path: Path) -> None:
    pixels = gray(frames=2)
    source = _written(tmp_path, pixels, "1.2.840.10008.1.2.4.90")
    out = tmp_path / "out.png"
    result = runner.invoke(
        app, ["render", str(source), "-o", str(out), "--frame", "2", "--window", "2048,4096"]
    )
    assert result.exit_code == 0, result.output
    got = np.asarray(Image.open(out))
    expected = np.rint(np.clip(((pixels[1] - 2047.5) / 4095 + 0.5) * 255, 0, 255))
    assert np.abs(got.astype(int) - expected).max() <= 1
    small = tmp_path / "small.jpg"
    assert (
        runner.invoke(app, ["render", str(CT), "-o", str(small), "--size", "64x64"]).exit_code == 0
    )
    image = Image.open(small)
    assert image.format == "JPEG" and image.size == (64, 64)


@pytest.mark.parametrize(
    ("to", "uid"),
    [
        ("jpeg-ls", "1.2.840.10008.1.2.4.80"),
        ("j2k", "1.2.840.10008.1.2.4.90"),
        ("rle", "1.2.840.10008.1.2.5"),
        ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1"),
    ],
)
def test_transcode_is_lossless_and_dcmtk_reads_it(tmp_path: Path, to: str, uid: str) -> None:
    out = tmp_path / "out.dcm"
    result = runner.invoke(app, ["transcode", str(CT), "--to", to, "-o", str(out)])
    assert result.exit_code == 0, result.output
    ds = dcmread(out)
    assert ds.file_meta.TransferSyntaxUID == uid
    assert np.array_equal(ds.pixel_array, dcmread(CT).pixel_array)
    require_tools("dcmdump")
    dump = subprocess.run(["dcmdump", "-E", str(out)], capture_output=True, check=False)
    assert dump.returncode == 0, dump.stderr


def test_uid_is_a_2_25_uuid_uid() -> None:
    first, second = (runner.invoke(app, ["uid"]).output.strip() for _ in range(2))
    for value in (first, second):
        assert re.fullmatch(r"2\.25\.(0|[1-9][0-9]*)", value) and len(value) <= 64
        assert int(value[5:]) < 2**128
    assert first != second


def test_errors_are_one_line_and_an_exit_status(tmp_path: Path) -> None:
    not_dicom = tmp_path / "x.txt"
    not_dicom.write_text("hello")
    result = runner.invoke(app, ["render", str(not_dicom), "-o", str(tmp_path / "x.jpg")])
    assert result.exit_code == 1 and "not a DICOM" in result.output
    result = runner.invoke(app, ["render", str(CT), "-o", str(tmp_path / "x.jpg"), "--frame", "9"])
    assert result.exit_code == 1 and "frame 9" in result.output
    result = runner.invoke(app, ["render", str(CT), "-o", str(tmp_path / "x.bmp")])
    assert result.exit_code == 2
    result = runner.invoke(
        app, ["render", str(CT), "-o", str(tmp_path / "x.jpg"), "--window", "1,0"]
    )
    assert result.exit_code == 2
    result = runner.invoke(app, ["transcode", str(CT), "--to", "jpeg", "-o", str(tmp_path / "y")])
    assert result.exit_code == 1 and "8-bit" in result.output
    result = runner.invoke(app, ["transcode", str(CT), "--to", "zip", "-o", str(tmp_path / "y")])
    assert result.exit_code == 2
