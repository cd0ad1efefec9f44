"""Archive.store_files: a batch is answered per instance, indexed in one transaction, and leaves
nothing half-stored when the index or the disk fails."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from openvna.archive import Archive, Origin, StoreOutcome
from openvna.archive.outcome import CANNOT_UNDERSTAND, OUT_OF_RESOURCES, StoreStatus
from openvna.dicom.part10 import part10_bytes, write_part10
from openvna.errors import IndexUnavailable, OutOfResources
from tests.factories import make_instance
from tests.spool import spool_left


def _spooled(archive: Archive, name: str, ds: object = None, raw: bytes | None = None) -> Path:
    path = archive.blobs.spool_dir() / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        write_part10(ds, path)
    return path


def _blobs(archive: Archive) -> list[Path]:
    return sorted((archive.blobs.root / "blobs").rglob("*.dcm"))


def _spool_left(archive: Archive) -> list[Path]:
    return spool_left(archive.blobs.spool_dir())


def test_batch_answers_each_instance_in_order(archive: Archive) -> None:
    first, second = make_instance(), make_instance(modality="MR")
    paths = [
        _spooled(archive, "a.dcm", first),
        _spooled(archive, "b.dcm", raw=b"not dicom at all" * 20),
        _spooled(archive, "c.dcm", second),
    ]
    outcomes = archive.store_files(paths, Origin.local())
    assert [o.status for o in outcomes] == [
        StoreStatus.STORED,
        StoreStatus.FAILED,
        StoreStatus.STORED,
    ]
    assert outcomes[0].sop_instance_uid == first.SOPInstanceUID
    assert outcomes[1].failure_reason == CANNOT_UNDERSTAND
    assert outcomes[2].sop_instance_uid == second.SOPInstanceUID
    assert archive.index.count_instances() == 2
    assert len(_blobs(archive)) == 2
    assert _spool_left(archive) == []


def test_same_instance_twice_in_a_batch_keeps_one_blob(archive: Archive) -> None:
    ds = make_instance()
    paths = [_spooled(archive, "a.dcm", ds), _spooled(archive, "b.dcm", ds)]
    outcomes = archive.store_files(paths, Origin.local())
    assert [o.status for o in outcomes] == [StoreStatus.STORED, StoreStatus.REPLACED]
    assert archive.index.count_instances() == 1
    assert len(_blobs(archive)) == 1
    assert archive.index.locate(ds.StudyInstanceUID)[0].blob_key in str(_blobs(archive)[0])


def test_index_failure_stores_nothing_of_the_batch(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise IndexUnavailable("index unavailable: disk I/O error")

    monkeypatch.setattr(archive.index, "add_instances", broken)
    paths = [_spooled(archive, f"{n}.dcm", make_instance()) for n in range(3)]
    with pytest.raises(IndexUnavailable):
        archive.store_files(paths, Origin.local())
    assert _blobs(archive) == []
    assert _spool_left(archive) == []


def _fail_placing(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, sop_uid: str, error: Exception
) -> None:
    """The blob store answers ``error`` for the instance ``sop_uid`` and places the others."""
    put_files = archive.blobs.put_files

    def put_files_but_one(items: list[tuple[str, Path]], **options: Any) -> list[int | Exception]:
        placed = iter(put_files([item for item in items if sop_uid not in item[0]], **options))
        return [error if sop_uid in key else next(placed) for key, _ in items]

    monkeypatch.setattr(archive.blobs, "put_files", put_files_but_one)


def _fail_fsync(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """A full disk met by the fsync of spool file ``name``, on the store's flusher threads
    (``Flushing``)."""
    fsync = os.fsync

    def fsync_but_full(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(name):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_but_full)


@pytest.mark.parametrize("met_by", ["placing", "fsync"])
def test_a_full_disk_fails_only_that_instance(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, met_by: str
) -> None:
    full = make_instance()
    if met_by == "placing":
        _fail_placing(archive, monkeypatch, full.SOPInstanceUID, OutOfResources("no space left"))
    else:
        _fail_fsync(monkeypatch, "full.dcm")
    paths = [_spooled(archive, "a.dcm", make_instance()), _spooled(archive, "full.dcm", full)]
    outcomes: list[StoreOutcome] = archive.store_files(paths, Origin.local())
    assert outcomes[0].ok
    assert (outcomes[1].failure_reason, outcomes[1].sop_instance_uid) == (
        OUT_OF_RESOURCES,
        full.SOPInstanceUID,
    )
    assert archive.index.count_instances() == 1
    assert len(_blobs(archive)) == 1
    assert _spool_left(archive) == []


def test_unexpected_write_error_removes_the_blobs_already_placed(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = make_instance()
    _fail_placing(archive, monkeypatch, broken.SOPInstanceUID, PermissionError(13, "denied"))
    paths = [_spooled(archive, f"{n}.dcm", make_instance()) for n in range(3)]
    paths.append(_spooled(archive, "broken.dcm", broken))
    with pytest.raises(PermissionError):
        archive.store_files(paths, Origin.local())
    assert archive.index.count_instances() == 0
    assert _blobs(archive) == []
    assert _spool_left(archive) == []


def test_an_undecodable_value_fails_only_its_instance(archive: Archive) -> None:
    """A header that parses but holds a value pydicom cannot decode (here an unknown VR 'QQ'
    on PatientSex) is that instance's failure (C000); the rest of the batch is stored."""
    odd = make_instance()
    data = bytearray(part10_bytes(odd))
    at = data.index(b"\x10\x00\x40\x00CS")  # (0010,0040) PatientSex, explicit VR CS
    data[at + 4 : at + 6] = b"QQ"
    paths = [
        _spooled(archive, "a.dcm", make_instance()),
        _spooled(archive, "odd.dcm", raw=bytes(data)),
        _spooled(archive, "c.dcm", make_instance()),
    ]
    outcomes = archive.store_files(paths, Origin.local())
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].failure_reason == CANNOT_UNDERSTAND
    assert outcomes[1].sop_instance_uid == odd.SOPInstanceUID
    assert archive.index.count_instances() == 2
    assert len(_blobs(archive)) == 2
    assert _spool_left(archive) == []
