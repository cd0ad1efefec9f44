"""Which spool files and blobs belong to a store still in flight, and which a crash left behind.

Each process spools into a directory of its own, ``spool/<host>-<pid>``, and before it renames a
batch's files into the blob tree it writes the batch's keys to a ``placing-*`` file there,
blanked once the index has committed them (``PlacingRecords``). So after a crash (kill -9, power
loss) what is left is exactly: the dead process's spool directory, whose spool files were never
stored, and the keys of its ``placing`` files, of which those without an index row are strays. A
process that is alive is never touched: its directory names its pid on this host. Directories of
other hosts (a data directory shared over the network) are left to those hosts.

A pid reused by an unrelated process keeps a dead directory until that process ends too; a spool
directory holds nothing the index needs, so the cost is disk space for a while, not data.

A record file is blanked and kept for the next batch rather than removed: a file made and
removed per batch (per C-STORE, per STOW-RS request) is an inode freed per batch, and ext4
without a journal scans past every inode freed in the last minutes before it gives one out
(``recently_deleted`` in its allocator), so each such removal made every later file of the
process dearer to create (measured: 20 -> 100-150 us a file in a directory whose group had
freed a few thousand inodes).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Leftovers", "PlacingRecords", "clear", "leftovers", "live_placing", "own_dir"]

_PLACING = "placing-"


@dataclass(frozen=True)
class Leftovers:
    """What dead processes left: their spool directories (and loose files of the spool root)
    and the blob keys they were placing when they died."""

    paths: tuple[Path, ...]
    placing: tuple[str, ...]


def own_dir(root: Path) -> Path:
    """This process's spool directory under ``root`` (made if missing)."""
    own = root / f"{socket.gethostname()}-{os.getpid()}"
    own.mkdir(parents=True, exist_ok=True)
    return own


class PlacingRecords:
    """The ``placing-*`` files of one process's spool directory ``own``, each holding the keys
    of one batch while it is placed and only line breaks otherwise; as many as batches were
    ever placed at once, kept open and reused (see the module)."""

    def __init__(self, own: Path) -> None:
        self._own = own
        self._free: list[int] = []  # descriptors of records that name no key
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._free)

    @contextmanager
    def placing(self, keys: Sequence[str]) -> Iterator[None]:
        """Record ``keys`` as being placed by this process until the block ends (the index has
        committed them or the batch has removed them). Not fsynced: it only matters while this
        process lives; after a crash a key it lost is a stray found by ``openvna check``.

        The keys are written over the record's start and blanked with line breaks after, never
        truncated: a record that shrank gave its block back, and on a file system mounted with
        ``discard`` each freed block is a discard request to the disk, waited for (0.15 ms to
        write a record and 0.23 ms to truncate it, timed in a C-STORE, against a few us)."""
        with self._lock:
            record = self._free.pop() if self._free else None
        if record is None:
            name = self._own / f"{_PLACING}{uuid.uuid4().hex}"
            record = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        content = "\n".join(keys).encode() + b"\n"
        try:
            os.pwrite(record, content, 0)
            yield
        finally:
            os.pwrite(record, b"\n" * len(content), 0)
            with self._lock:
                self._free.append(record)


def _close_all(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)


def leftovers(root: Path) -> Leftovers:
    """The spool directories of dead processes of this host, loose files in ``root`` (spooled
    by an older openvna), and the keys the dead were placing."""
    paths: list[Path] = []
    keys: list[str] = []
    for entry in root.iterdir():
        if entry.is_dir():
            if not _dead(entry.name):
                continue
            keys += _placing_keys(entry)
        paths.append(entry)
    return Leftovers(tuple(paths), tuple(keys))


def live_placing(root: Path) -> set[str]:
    """The keys living processes are placing now (a sweep must not take them for strays)."""
    keys: set[str] = set()
    for entry in root.iterdir():
        if entry.is_dir() and not _dead(entry.name):
            keys.update(_placing_keys(entry))
    return keys


def clear(found: Leftovers) -> None:
    """Remove the dead processes' spool directories and loose spool files."""
    for path in found.paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _placing_keys(directory: Path) -> list[str]:
    keys = []
    for record in directory.glob(f"{_PLACING}*"):
        try:
            keys += [key for key in record.read_text().splitlines() if key]
        except FileNotFoundError:  # the batch finished meanwhile
            continue
    return keys


def _dead(name: str) -> bool:
    """Whether the directory ``<host>-<pid>`` belongs to a process of this host that is gone."""
    host, _, pid = name.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
