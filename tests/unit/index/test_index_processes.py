"""Two processes writing one SQLite index (``openvna import`` beside ``openvna serve``)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from openvna.archive import Origin
from openvna.dicom.query import Level, parse_qido
from openvna.runtime import build_archive
from openvna.settings import load_settings
from tests.factories import make_instance

STUDY = "2.25.314159265358979323846"
PER_PROCESS = 30


def _store_many(data_dir: str, series: str) -> int:
    archive = build_archive(load_settings(None, {"storage": {"data_dir": data_dir}}, {}))
    try:
        stored = 0
        for number in range(PER_PROCESS):
            ds = make_instance(study_uid=STUDY, series_uid=series, InstanceNumber=number)
            stored += archive.store_dataset(ds, Origin.local()).ok
        return stored
    finally:
        archive.close()


def test_two_processes_fill_one_new_study_without_losing_an_instance(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    build_archive(load_settings(None, {"storage": {"data_dir": data_dir}}, {})).close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(_store_many, [(data_dir, "2.25.1"), (data_dir, "2.25.2")])
    assert results == [PER_PROCESS, PER_PROCESS]
    archive = build_archive(load_settings(None, {"storage": {"data_dir": data_dir}}, {}))
    try:
        [study] = (
            archive.find(parse_qido(Level.STUDY, [("StudyInstanceUID", STUDY)])).page().datasets
        )
    finally:
        archive.close()
    assert study["00201208"]["Value"] == [2 * PER_PROCESS]
    assert study["00201206"]["Value"] == [2]
