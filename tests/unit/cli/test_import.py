"""``openvna import``: recursive import, a summary with grouped reasons, exit status 0/1/2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openvna.cli.main import app
from openvna.dicom.part10 import part10_bytes
from openvna.runtime import build_archive
from openvna.settings import load_settings
from tests.factories import make_instance
from tests.spool import spool_left

STUDY = "1.2.826.0.1.3680043.8.498.1"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _write(path: Path, **attributes: object) -> str:
    ds = make_instance(study_uid=STUDY, **attributes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(part10_bytes(ds))
    return ds.SOPInstanceUID


def _stored(data_dir: Path) -> set[str]:
    archive = build_archive(load_settings(None, {"storage": {"data_dir": data_dir}}, environ={}))
    try:
        return {location.sop_uid for location in archive.index.locate(STUDY)}
    finally:
        archive.close()


def _run(runner: CliRunner, data_dir: Path, *paths: Path):
    return runner.invoke(app, ["import", *map(str, paths), "--data-dir", str(data_dir)])


def test_import_folder_with_a_non_dicom_file_fails_with_a_summary(runner, tmp_path: Path):
    source = tmp_path / "in"
    sops = {_write(source / "a.dcm"), _write(source / "nested" / "deeper" / "b.dcm")}
    (source / "notes.txt").write_text("not an image")
    data = tmp_path / "data"

    result = _run(runner, data, source)

    assert result.exit_code == 1, result.output
    assert "3 files: 2 stored, 0 replaced." in result.stdout
    assert "1 failed: not DICOM or damaged (1)" in result.stdout
    assert f"{source / 'notes.txt'}: the file is not a DICOM Part 10 file" in result.stdout
    assert _stored(data) == sops
    assert spool_left(data / "spool") == []
    assert (source / "a.dcm").exists()  # the originals stay where they were


def test_import_all_good_exits_zero_and_a_second_import_replaces(runner, tmp_path: Path):
    first = tmp_path / "one.dcm"
    sops = {_write(first), _write(tmp_path / "more" / "two.dcm")}
    data = tmp_path / "data"

    result = _run(runner, data, first, tmp_path / "more")
    assert result.exit_code == 0, result.output
    assert "2 files: 2 stored, 0 replaced." in result.stdout

    again = _run(runner, data, first)
    assert again.exit_code == 0, again.output
    assert "1 files: 0 stored, 1 replaced." in again.stdout
    assert _stored(data) == sops


def test_import_groups_reasons_and_skips_dicomdir(runner, tmp_path: Path):
    source = tmp_path / "cd"
    good = _write(source / "IMG0001")
    _write(source / "IMG0002", SeriesInstanceUID="1.2.03.4")  # leading zero: not a UID
    (source / "DICOMDIR").write_bytes(b"\0" * 132)
    (source / "empty").write_bytes(b"")
    (source / "junk").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 10)

    result = _run(runner, tmp_path / "data", source)

    assert result.exit_code == 1, result.output
    assert "1 skipped: DICOMDIR (1)" in result.stdout
    assert "3 failed: not DICOM or damaged (2), missing or invalid UIDs (1)" in result.stdout
    assert "SeriesInstanceUID" in result.stdout
    assert _stored(tmp_path / "data") == {good}


def test_import_of_a_missing_path_is_a_usage_error(runner, tmp_path: Path):
    result = _run(runner, tmp_path / "data", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert not (tmp_path / "data").exists()


def test_import_of_an_empty_folder_says_so(runner, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    result = _run(runner, tmp_path / "data", tmp_path / "empty")
    assert result.exit_code == 0
    assert "No files found." in result.stdout
