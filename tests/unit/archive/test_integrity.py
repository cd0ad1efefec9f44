"""Crash leftovers and the index/blob comparison, on both engines: what a dead process left is
removed at the next start, what a live one is storing is never touched, and ``check`` finds and
repairs strays and rows without blobs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from openvna.archive import Archive, Origin
from openvna.archive.integrity import Problem
from openvna.dicom.part10 import part10_bytes
from openvna.index.inventory import indexed_blobs
from tests.factories import make_instance


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _store(archive: Archive) -> str:
    outcome = archive.store_dataset(make_instance(), Origin.local("test"))
    assert outcome.ok, outcome.message
    [location] = archive.index.locate(outcome.study_uid)
    return location.blob_key


def _blob(archive: Archive, key: str) -> Path:
    return archive.blobs.path(key)  # type: ignore[attr-defined,no-any-return]


def _plant(archive: Archive, key: str, data: bytes = b"stray") -> Path:
    path = _blob(archive, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _spool_root(archive: Archive) -> Path:
    return archive.spool_dir().parent


def test_recover_removes_a_dead_process_spool_and_its_unindexed_blobs(archive: Archive) -> None:
    stored = _store(archive)
    orphan = "1.2.3/4.5.6/7.8.9.0a1b2c3d.dcm"
    _plant(archive, orphan, part10_bytes(make_instance()))
    dead = _spool_root(archive) / f"{socket.gethostname()}-{_dead_pid()}"
    dead.mkdir()
    (dead / "x.part").write_bytes(b"half a STOW-RS part")
    (dead / "placing-1").write_text(f"{stored}\n{orphan}")
    loose = _spool_root(archive) / "old.part"  # spooled by an older openvna, in the root
    loose.write_bytes(b"x")
    assert archive.recover() == 1
    assert not _blob(archive, orphan).exists()
    assert _blob(archive, stored).exists()  # the dead process had got it indexed
    assert not dead.exists() and not loose.exists()
    assert archive.check().findings == []


def test_recover_leaves_live_processes_and_other_hosts_alone(archive: Archive) -> None:
    live = archive.spool_dir()
    (live / "y.part").write_bytes(b"arriving")
    elsewhere = _spool_root(archive) / f"another-host-{_dead_pid()}"
    elsewhere.mkdir()
    with archive.blobs.placing(["1.2/3.4/5.6.00000000.dcm"]):
        _plant(archive, "1.2/3.4/5.6.00000000.dcm")
        assert archive.recover() == 0
        assert archive.check().findings == []  # in flight: not a stray
    assert (live / "y.part").exists() and elsewhere.exists()


def test_check_finds_and_repairs_what_can_be_repaired(archive: Archive) -> None:
    gone, truncated, fine = _store(archive), _store(archive), _store(archive)
    _blob(archive, gone).unlink()
    _blob(archive, truncated).write_bytes(b"short")
    stray = _plant(archive, "9.9/9.9/9.9.12345678.dcm")
    report = archive.check()
    assert (report.instances, report.blobs) == (3, 3)
    found = {(finding.problem, finding.key) for finding in report.findings}
    assert found == {
        (Problem.MISSING_BLOB, gone),
        (Problem.WRONG_SIZE, truncated),
        (Problem.STRAY_BLOB, "9.9/9.9/9.9.12345678.dcm"),
    }
    assert stray.exists()  # a check alone changes nothing

    repaired = archive.check(repair=True)
    assert [f.problem for f in repaired.unrepaired] == [Problem.WRONG_SIZE]
    assert not stray.exists()
    quarantined = archive.blobs.root / "quarantine" / "9.9/9.9/9.9.12345678.dcm"  # type: ignore[attr-defined]
    assert quarantined.read_bytes() == b"stray"
    assert archive.index.count_instances() == 2
    after = archive.check()
    assert [(f.problem, f.key) for f in after.findings] == [(Problem.WRONG_SIZE, truncated)]
    assert _blob(archive, fine).exists()


def test_a_checksum_taken_at_ingest_finds_changed_bytes(archive: Archive) -> None:
    changed, fine = _store(archive), _store(archive)
    [row] = [r for r in archive.index.run_read(indexed_blobs) if r.key == changed]
    assert row.checksum is not None and row.checksum.startswith("xxh3:")
    path = _blob(archive, changed)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a flipped bit in the pixels: same size
    path.write_bytes(bytes(data))
    assert archive.check().findings == []  # sizes agree: only reading the bytes tells
    [finding] = archive.check(verify_checksums=True).findings
    assert (finding.problem, finding.key) == (Problem.CHECKSUM_MISMATCH, changed)
    assert f"at ingest {row.checksum}" in finding.detail
    assert _blob(archive, fine).exists()
