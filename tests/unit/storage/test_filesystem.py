"""FilesystemBlobStore: atomic moves into place and keys that cannot leave the blob directory."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from openvna.errors import NotFound, OutOfResources
from openvna.storage import filesystem, writeback
from openvna.storage.checksum import checksum_of_bytes
from openvna.storage.filesystem import FilesystemBlobStore


def test_put_file_moves_the_spool_file_into_place(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    source = store.spool_dir() / "x.part"
    source.write_bytes(b"abc" * 100)
    assert store.put_file("1.2/3.4/5.6.0a0b0c0d.dcm", source) == 300
    assert not source.exists()
    assert store.read_range("1.2/3.4/5.6.0a0b0c0d.dcm", 3, 3) == b"abc"
    assert store.path("1.2/3.4/5.6.0a0b0c0d.dcm") == tmp_path / "blobs/1.2/3.4/5.6.0a0b0c0d.dcm"


def _spooled(store: FilesystemBlobStore, name: str, data: bytes) -> Path:
    source = store.spool_dir() / name
    source.write_bytes(data)
    return source


def test_put_files_places_a_batch_and_answers_each_file(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    items = [
        ("st/se1/a.dcm", _spooled(store, "a", b"a" * 10)),
        ("st/se1/b.dcm", tmp_path / "spool" / "missing"),
        ("st/se2/c.dcm", _spooled(store, "c", b"c" * 20)),
    ]
    results = store.put_files(items)
    assert results[0] == 10 and results[2] == 20
    assert isinstance(results[1], FileNotFoundError)
    assert store.read_range("st/se2/c.dcm", 0, 3) == b"ccc"
    assert not store.exists("st/se1/b.dcm")
    assert list(store.spool_dir().iterdir()) == []


def test_put_files_syncs_each_changed_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemBlobStore(tmp_path)
    synced: list[Path] = []
    monkeypatch.setattr(filesystem, "_fsync_dir", synced.append)
    items = [(f"st/se/{n}.dcm", _spooled(store, str(n), b"x")) for n in range(5)]
    store.put_files(items)
    blobs = tmp_path / "blobs"
    # the series directory (its five new entries), and the parents of the new directories
    assert sorted(synced) == [blobs, blobs / "st", blobs / "st/se"]
    synced.clear()
    store.put_files([("st/se/5.dcm", _spooled(store, "5", b"x"))])
    assert synced == [blobs / "st/se"]


def test_a_flush_starts_the_write_back_and_its_wait_ends_with_the_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemBlobStore(tmp_path)
    path = _spooled(store, "a", b"abc")
    steps: list[str] = []
    monkeypatch.setattr(filesystem, "start_writeback", lambda fd: steps.append("write-back"))
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (steps.append("fsync"), real_fsync(fd)))
    flushing = store.flush(path)
    assert steps == ["write-back"]
    assert flushing.checksum == checksum_of_bytes(b"abc")
    flushing.wait()
    assert steps == ["write-back", "fsync"]


def test_a_full_disk_met_by_the_fsync_is_raised_by_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemBlobStore(tmp_path)
    flushing = store.flush(_spooled(store, "a", b"abc"))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutOfResources):
        flushing.wait()


def test_the_kernel_takes_a_write_back_of_a_file_open_for_reading(tmp_path: Path) -> None:
    path = tmp_path / "a"
    path.write_bytes(b"x" * 70000)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert writeback.start_writeback(fd) is sys.platform.startswith("linux")
    finally:
        os.close(fd)
    assert writeback.start_writeback(fd) is False  # closed: refused, not raised


def test_put_files_takes_back_what_a_failed_directory_sync_leaves_unsure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemBlobStore(tmp_path)
    store.put_bytes("st/ok/0.dcm", b"0")

    def fail_on_bad(directory: Path) -> None:
        if directory.name == "bad":
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(filesystem, "_fsync_dir", fail_on_bad)
    items = [
        ("st/ok/1.dcm", _spooled(store, "1", b"1")),
        ("st/bad/2.dcm", _spooled(store, "2", b"2")),
    ]
    results = store.put_files(items)
    assert results[0] == 1
    assert isinstance(results[1], OSError) and results[1].errno == errno.EIO
    assert store.exists("st/ok/1.dcm")
    assert not store.exists("st/bad/2.dcm")


@pytest.mark.parametrize(
    "key", ["../index.db", "a/../../x", "/etc/passwd", "", ".", "a/..", "./..", "a//../.."]
)
def test_keys_outside_the_blob_directory_are_refused(tmp_path: Path, key: str) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(NotFound):
        store.path(key)


@pytest.mark.parametrize(
    ("key", "file"),
    [
        ("1.2/3.4/5.6.0a0b0c0d.dcm", "1.2/3.4/5.6.0a0b0c0d.dcm"),
        ("a/./b", "a/b"),
        ("a//b", "a/b"),
        ("a/../b", "b"),
        ("a/b/", "a/b"),
        (".hidden", ".hidden"),
    ],
)
def test_keys_name_their_normalised_file(tmp_path: Path, key: str, file: str) -> None:
    store = FilesystemBlobStore(tmp_path)
    assert store.filename(key) == str(tmp_path / "blobs" / file)


def test_delete_removes_empty_parents_only(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    store.put_bytes("s/a/1.dcm", b"1")
    store.put_bytes("s/b/2.dcm", b"2")
    store.delete("s/a/1.dcm")
    assert not (tmp_path / "blobs/s/a").exists()
    assert store.exists("s/b/2.dcm")


def test_placing_records_are_blanked_and_kept_for_the_next_batches(tmp_path: Path) -> None:
    """A batch's keys are in flight while it places them; its record is then blanked and kept,
    neither removed nor truncated: a file removed per batch made every later file dearer to
    create (ext4 without a journal skips recently freed inodes), a truncated one gave its block
    back (a discard request with ``-o discard``); storage.inflight."""
    store = FilesystemBlobStore(tmp_path)
    for number in range(3):
        with store.placing([f"st/se/{number}.dcm", f"st/se/{number}b.dcm"]):
            assert store.in_flight() == {f"st/se/{number}.dcm", f"st/se/{number}b.dcm"}
    with store.placing(["st/se/x.dcm"]), store.placing(["st/se/y.dcm"]):
        assert store.in_flight() == {"st/se/x.dcm", "st/se/y.dcm"}
    assert store.in_flight() == set()
    records = list(store.spool_dir().glob("placing-*"))
    assert len(records) == 2  # as many as batches placed at once
    assert [record.read_bytes().strip() for record in records] == [b"", b""]
    assert all(record.stat().st_size > 0 for record in records)  # blanked, not truncated
    with store.placing(["st/se/z.dcm"]):  # shorter than what a record held: nothing else named
        assert store.in_flight() == {"st/se/z.dcm"}
