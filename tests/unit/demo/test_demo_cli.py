"""``openvna demo``: loads the catalogue into the data directory and says what is there."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import openvna.demo
from openvna.cli.main import app
from openvna.demo.patients import CATALOGUE, JOE_STUDY_UID
from openvna.runtime import build_archive
from openvna.settings import load_settings

JOE_ONLY = tuple(study for study in CATALOGUE if study.uid == JOE_STUDY_UID)


@pytest.fixture
def joe_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command over SIIM^Joe's study only: the CLI's behaviour, in a second."""
    monkeypatch.setattr(openvna.demo, "CATALOGUE", JOE_ONLY)  # the command reads it when run
    monkeypatch.setenv("COLUMNS", "200")  # one table row per study, whatever the terminal


def test_demo_loads_and_reports_then_finds_it_there(joe_only, tmp_path: Path):
    data = tmp_path / "data"
    runner = CliRunner()

    first = runner.invoke(app, ["demo", "--data-dir", str(data)])
    assert first.exit_code == 0, first.output
    assert "SIIM^Joe" in first.stdout
    assert "a257132503242682" in first.stdout
    assert "2 instances in" in first.stdout
    assert "HackathonOrientationSession" in first.stdout

    again = runner.invoke(app, ["demo", "--data-dir", str(data)])
    assert again.exit_code == 0, again.output
    row = next(line for line in again.stdout.splitlines() if "SIIM^Joe" in line)
    assert row.split()[-2:] == ["2", "0"]  # two instances there, none new

    archive = build_archive(load_settings(None, {"storage": {"data_dir": data}}, environ={}))
    try:
        assert len(archive.index.locate(JOE_STUDY_UID)) == 2
    finally:
        archive.close()


def test_demo_with_a_bad_settings_file_is_a_usage_error(tmp_path: Path):
    settings = tmp_path / "openvna.toml"
    settings.write_text("[storage]\nnot_a_setting = 1\n")
    result = CliRunner().invoke(app, ["demo", "--config", str(settings)])
    assert result.exit_code == 2
    assert "not_a_setting" in result.output
