"""FilesystemBlobStore: atomic moves into place and keys that cannot leave the blob directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from openvna.errors import NotFound
from openvna.storage.filesystem import FilesystemBlobStore


def test_put_file_moves_the_spool_file_into_place(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    source = store.spool_dir() / "x.part"
    source.write_bytes(b"abc" * 100)
    assert store.put_file("1.2/3.4/5.6.0a0b0c0d.dcm", source) == 300
    assert not source.exists()
    assert store.read_range("1.2/3.4/5.6.0a0b0c0d.dcm", 3, 3) == b"abc"
    assert store.path("1.2/3.4/5.6.0a0b0c0d.dcm") == tmp_path / "blobs/1.2/3.4/5.6.0a0b0c0d.dcm"


@pytest.mark.parametrize("key", ["../index.db", "a/../../x", "/etc/passwd", "", "."])
def test_keys_outside_the_blob_directory_are_refused(tmp_path: Path, key: str) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(NotFound):
        store.path(key)


def test_delete_removes_empty_parents_only(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    store.put_bytes("s/a/1.dcm", b"1")
    store.put_bytes("s/b/2.dcm", b"2")
    store.delete("s/a/1.dcm")
    assert not (tmp_path / "blobs/s/a").exists()
    assert store.exists("s/b/2.dcm")
