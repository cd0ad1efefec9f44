"""``openvna echo|find|move|get|send|retrieve`` as scripts run them: against openvna's own SCP
and against Orthanc as the remote PACS, with their summaries and exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread

from openvna.archive import Origin
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode, free_port
from tests.integration.dimse.peers import dataset_bytes, stored_file
from tests.orthanc import orthanc_process
from tests.tools import needs_dcmtk

pytestmark = pytest.mark.integration


def openvna(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openvna", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def target(node: DimseNode) -> str:
    return f"{AE_TITLE}@{node.host}:{node.port}"


def test_echo_and_its_exit_statuses(dimse: DimseNode, tmp_path: Path) -> None:
    ok = openvna(tmp_path, "echo", target(dimse))
    assert ok.returncode == 0, ok.stderr
    assert "status 0000" in ok.stdout
    closed = openvna(tmp_path, "echo", f"NOBODY@127.0.0.1:{free_port()}", "--timeout", "5")
    assert closed.returncode == 1
    assert "did not answer" in closed.stderr
    unknown = openvna(tmp_path, "echo", "NOTANODE")
    assert unknown.returncode == 2
    assert "known remote node" in unknown.stderr


def test_echo_a_configured_node_by_title(dimse: DimseNode, tmp_path: Path) -> None:
    remotes = json.dumps([{"aet": AE_TITLE, "host": dimse.host, "port": dimse.port}])
    result = subprocess.run(
        [sys.executable, "-m", "openvna", "echo", AE_TITLE, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "OPENVNA_DIMSE__REMOTES": remotes},
    )
    assert result.returncode == 0, result.stderr


def test_find_as_json_and_as_a_table(dimse: DimseNode, tmp_path: Path) -> None:
    ds = make_instance(patient_name="SIIM^JOE", patient_id="SIIM1")
    assert dimse.archive.store_dataset(ds, Origin.local()).ok
    keys = ["-k", "PatientName=SIIM*", "-k", "StudyInstanceUID", "-k", "PatientID"]
    found = openvna(tmp_path, "find", target(dimse), "--json", *keys)
    assert found.returncode == 0, found.stderr
    [match] = json.loads(found.stdout)
    assert match["0020000D"]["Value"] == [ds.StudyInstanceUID]
    assert match["00100020"]["Value"] == ["SIIM1"]
    table = openvna(tmp_path, "find", target(dimse), *keys)
    assert "SIIM1" in table.stdout and "1 match" in table.stdout
    bad = openvna(tmp_path, "find", target(dimse), "-k", "NotAKeyword=1")
    assert bad.returncode == 2


def test_send_files_then_get_them_back(dimse: DimseNode, tmp_path: Path) -> None:
    files = tmp_path / "in"
    files.mkdir()
    study = make_instance()
    for number in range(3):
        ds = make_instance(study_uid=study.StudyInstanceUID, series_uid=study.SeriesInstanceUID)
        ds.save_as(files / f"{number}.dcm", enforce_file_format=True)
    (files / "notes.txt").write_text("not DICOM")
    sent = openvna(tmp_path, "send", target(dimse), str(files))
    assert sent.returncode == 1  # the text file failed, and says so
    assert "3 completed, 1 failed" in sent.stdout
    assert "notes.txt" in sent.stdout
    out = tmp_path / "out"
    keys = ["-k", f"StudyInstanceUID={study.StudyInstanceUID}"]
    got = openvna(tmp_path, "get", target(dimse), "--out", str(out), *keys)
    assert got.returncode == 0, got.stdout + got.stderr
    assert "3 completed, 0 failed" in got.stdout
    for path in out.iterdir():
        assert dataset_bytes(path) == dataset_bytes(stored_file(dimse, dcmread(path)))


@needs_dcmtk
def test_move_to_a_destination(dimse_factory, storescp, tmp_path: Path) -> None:
    title, port, received = storescp
    node: DimseNode = dimse_factory(
        dimse={"remotes": [{"aet": title, "host": "127.0.0.1", "port": port}]}
    )
    ds = make_instance()
    assert node.archive.store_dataset(ds, Origin.local()).ok
    keys = ["-k", f"StudyInstanceUID={ds.StudyInstanceUID}"]
    moved = openvna(tmp_path, "move", target(node), "--dest", title, *keys)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "1 completed" in moved.stdout
    assert len(list(received.iterdir())) == 1
    unknown = openvna(tmp_path, "move", target(node), "--dest", "NOWHERE", *keys)
    assert unknown.returncode == 1
    assert "A801" in unknown.stdout


def test_send_a_stored_study_to_orthanc_and_retrieve_it_back(
    dimse: DimseNode, tmp_path: Path
) -> None:
    """Orthanc as the remote PACS: `send --study` pushes a study openvna holds; once openvna
    has deleted it, `retrieve` queries Orthanc and has it C-MOVE the study back, byte for byte."""
    first = make_instance(patient_id="ORTH1")
    instances = [first] + [
        make_instance(
            study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID, patient_id="ORTH1"
        )
        for _ in range(2)
    ]
    for ds in instances:
        assert dimse.archive.store_dataset(ds, Origin.local()).ok
    before = {ds.SOPInstanceUID: dataset_bytes(stored_file(dimse, ds)) for ds in instances}
    index = {"OPENVNA_INDEX__URL": dimse.web.settings.index_url}
    with orthanc_process(
        tmp_path / "orthanc", modalities={"openvna": ("OPENVNA", "127.0.0.1", dimse.port)}
    ) as orthanc:
        pacs = f"ORTHANC@127.0.0.1:{orthanc.dicom_port}"
        sent = openvna(
            dimse.web.data_dir, "send", pacs, "--study", first.StudyInstanceUID, env=index
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "3 completed" in sent.stdout
        assert len(httpx.get(orthanc.url + "/instances").json()) == 3
        assert dimse.archive.delete(first.StudyInstanceUID) == 3
        pulled = openvna(tmp_path, "retrieve", pacs, "-k", "PatientID=ORTH1")
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert "1 study match" in pulled.stdout
    assert {ds.SOPInstanceUID: dataset_bytes(stored_file(dimse, ds)) for ds in instances} == before
