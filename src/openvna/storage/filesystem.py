"""Blobs as files under one directory, written with temp file + fsync + rename."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import BinaryIO

from openvna.errors import NotFound, OutOfResources
from openvna.storage import inflight
from openvna.storage.base import Flushing
from openvna.storage.checksum import checksum_of
from openvna.storage.writeback import start_writeback

__all__ = ["FilesystemBlobStore"]

_OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT}


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._blobs = self.root / "blobs"
        self._blobs_text = str(self._blobs)
        self._blobs_prefix = self._blobs_text + os.sep
        self._spool_root = self.root / "spool"
        self._quarantine = self.root / "quarantine"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._spool_pid = 0
        self._records: inflight.PlacingRecords
        self._spool = self.spool_dir()

    def spool_dir(self) -> Path:
        """This process's own spool directory (``storage.inflight``): a forked worker gets its
        own at its first store."""
        if self._spool_pid != os.getpid():
            self._spool = inflight.own_dir(self._spool_root)
            self._records = inflight.PlacingRecords(self._spool)
            self._spool_pid = os.getpid()
        return self._spool

    def placing(self, keys: Sequence[str]) -> AbstractContextManager[None]:
        self.spool_dir()  # a forked worker records in its own directory
        return self._records.placing(keys)

    def leftovers(self) -> inflight.Leftovers:
        return inflight.leftovers(self._spool_root)

    def clear_leftovers(self, found: inflight.Leftovers) -> None:
        inflight.clear(found)

    def in_flight(self) -> set[str]:
        return inflight.live_placing(self._spool_root)

    def inventory(self) -> Iterator[tuple[str, int]]:
        """Every blob's key and size, walking the blob tree."""
        prefix = len(self._blobs_prefix)
        for directory, _, files in os.walk(self._blobs):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:  # deleted meanwhile
                    continue
                yield path[prefix:], size

    def quarantine(self, key: str) -> Path:
        """Move a blob out of the store, kept under ``quarantine/`` for the operator (who may
        ``openvna import`` it again); returns where it went."""
        source = self.path(key)
        target = self._quarantine / key
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        self.delete(key)  # prunes the emptied directories
        return target

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        return Path(self._file(key))

    def filename(self, key: str) -> str:
        """The key's file as text, for a server that opens and sends files itself."""
        return self._file(key)

    def _file(self, key: str) -> str:
        """The key's path, normalised as text, not resolved on disk: only the archive creates
        entries under the blob directory, and ``resolve`` costs a system call per component.
        The archive's keys (UIDs and a hash) need no normalising: a study retrieve asks for
        hundreds, and normalising each cost ~2 µs."""
        if key and key[0] not in "./" and key[-1] != "/" and "/." not in key and "//" not in key:
            return self._blobs_prefix + key
        path = os.path.normpath(os.path.join(self._blobs_text, key))
        if not path.startswith(self._blobs_prefix):
            raise NotFound(f"no blob {key!r}")
        return path

    def put_file(self, key: str, source: Path) -> int:
        (result,) = self.put_files([(key, source)])
        if isinstance(result, Exception):
            raise result
        return result

    def flush(self, source: Path) -> Flushing:
        """The spool file's checksum, taken from the page cache through a memory map (no copy:
        0.05 ms for a 512 KB instance), its write-back started (``storage.writeback``), and its
        fsync to end with, ahead of ``put_files(..., flushed=True)``."""
        with _translated(source.name):
            fd = os.open(source, os.O_RDONLY)
            try:
                digest = checksum_of(fd)
                start_writeback(fd)
            finally:
                os.close(fd)
        return Flushing(digest, partial(_fsync_file, source))

    def put_files(
        self, items: Sequence[tuple[str, Path]], *, flushed: bool = False
    ) -> list[int | Exception]:
        """Each file is fsynced (unless ``flushed`` already) and renamed into place, then every
        directory that gained an entry is fsynced once: the instances of a STOW-RS request
        mostly share one series directory, so a batch pays one directory fsync instead of one
        per instance."""
        results: list[int | Exception] = []
        placed: dict[Path, list[int]] = {}  # directory -> indexes of the files renamed into it
        changed: set[Path] = set()
        for index, (key, source) in enumerate(items):
            try:
                target = self.path(key)
                self._make_dir(target.parent, changed)
                fd = os.open(source, os.O_RDONLY)
                try:
                    if not flushed:
                        os.fsync(fd)
                    size = os.fstat(fd).st_size
                finally:
                    os.close(fd)
                os.replace(source, target)
            except OSError as exc:
                results.append(_translate(exc, key))
                continue
            results.append(size)
            placed.setdefault(target.parent, []).append(index)
        for directory in changed | placed.keys():
            try:
                _fsync_dir(directory)
            except OSError as exc:
                # The renames into it may not survive a crash: take those files back out.
                for index in placed.get(directory, []):
                    self.path(items[index][0]).unlink(missing_ok=True)
                    results[index] = _translate(exc, items[index][0])
        return results

    def _make_dir(self, directory: Path, changed: set[Path]) -> None:
        """Create ``directory`` and missing parents, noting each parent whose entries changed
        (their fsync makes the new directories themselves durable)."""
        if directory in changed or directory.is_dir():
            return
        self._make_dir(directory.parent, changed)
        with contextlib.suppress(FileExistsError):  # a concurrent store made it first
            directory.mkdir()
        changed.add(directory.parent)

    def put_bytes(self, key: str, data: bytes) -> int:
        try:
            fd, name = tempfile.mkstemp(dir=self.spool_dir(), suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise _translate(exc, key) from exc
        return self.put_file(key, Path(name))

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._file(key), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"no blob {key!r}") from exc

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self.open(key) as handle:
            handle.seek(offset)
            return handle.read(length)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"no blob {key!r}") from exc

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        for parent in (path.parent, path.parent.parent):
            if parent == self._blobs:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def checksum(self, key: str) -> str:
        try:
            fd = os.open(self._file(key), os.O_RDONLY)
        except FileNotFoundError as exc:
            raise NotFound(f"no blob {key!r}") from exc
        try:
            return checksum_of(fd)
        finally:
            os.close(fd)


def _fsync_file(source: Path) -> None:
    with _translated(source.name):
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _translated(name: str) -> Iterator[None]:
    """OSError as the archive's errors where it has one (a full disk: OutOfResources)."""
    try:
        yield
    except OSError as exc:
        translated = _translate(exc, name)
        if translated is exc:
            raise
        raise translated from exc


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX keeps directory entries in the directory's data)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _translate(exc: OSError, key: str) -> Exception:
    if exc.errno in _OUT_OF_SPACE:
        return OutOfResources(f"no space left to store {key!r}")
    return exc
