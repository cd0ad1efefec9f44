"""The blob store port: where the archive keeps the bytes of each instance.

Keys are built by the archive from validated UIDs (``study/series/instance.dcm``), never from raw
client input. A store translates its own failures into ArchiveError subclasses (ENOSPC becomes
OutOfResources) so services never see OSError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from openvna.storage.inflight import Leftovers

__all__ = ["BlobStore", "Flushing"]


@dataclass(frozen=True)
class Flushing:
    """A spool file's checksum (``storage.checksum``), and what makes its bytes durable: the
    write-back is under way (``storage.writeback``), ``wait`` ends it with the fsync.

    The write-backs of a request's files run side by side in the kernel, as the request goes
    on; each fsync at the end then mostly finds its bytes written (ten 512 KB files: 0.7 ms
    for the ten fsyncs after their write-backs, one after the other)."""

    checksum: str
    durable: Callable[[], None] | None = None

    def wait(self) -> None:
        """Return once the bytes are on disk; raises what the fsync met (OutOfResources when
        the disk is full)."""
        if self.durable is not None:
            self.durable()


@runtime_checkable
class BlobStore(Protocol):
    def spool_dir(self) -> Path:
        """A directory on the same filesystem as the blobs, for parts being received."""
        ...

    def put_file(self, key: str, source: Path) -> int:
        """Move a finished spool file into place atomically (fsync, rename); return its size."""
        ...

    def flush(self, source: Path) -> Flushing:
        """Start making a finished spool file's bytes durable, ahead of ``put_files``: a
        request's files are flushed while the rest of it still arrives, so that its end waits
        for less. Returns the checksum of its bytes, recorded with the instance, and the fsync
        to end with before the file is placed (``Flushing.wait``)."""
        ...

    def put_files(
        self, items: Sequence[tuple[str, Path]], *, flushed: bool = False
    ) -> list[int | Exception]:
        """Move several spool files into place (``put_file`` each, durable when it returns;
        ``flushed``: every source went through ``flush`` and has not changed since, so its
        bytes need no second fsync); a file that cannot be placed gets its error in the
        answer, not raised."""
        ...

    def put_bytes(self, key: str, data: bytes) -> int:
        """Write ``data`` under ``key`` atomically; return its size."""
        ...

    def filename(self, key: str) -> str | None:
        """The blob's file on a local filesystem, for a server that sends it with ``sendfile``;
        None for a store whose blobs are not files."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the blob for reading (raises NotFound)."""
        ...

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` (raises NotFound)."""
        ...

    def size(self, key: str) -> int:
        """Size of the blob in bytes (raises NotFound)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error (deletes are idempotent)."""
        ...

    def exists(self, key: str) -> bool: ...

    def checksum(self, key: str) -> str:
        """The stored blob's checksum now, to compare with the one taken at ingest (raises
        NotFound)."""
        ...

    def placing(self, keys: Sequence[str]) -> AbstractContextManager[None]:
        """Mark ``keys`` as being stored by this process for the duration of the block (from
        before their files are placed until the index has them), so no sweep takes them for
        strays, and a crash leaves them findable (``storage.inflight``)."""
        ...

    def leftovers(self) -> Leftovers:
        """What processes that died left in the spool, and the keys they were placing."""
        ...

    def clear_leftovers(self, found: Leftovers) -> None:
        """Remove the spool files of ``found``."""
        ...

    def in_flight(self) -> set[str]:
        """Keys living processes are placing now."""
        ...

    def inventory(self) -> Iterator[tuple[str, int]]:
        """Every stored blob's key and size."""
        ...

    def quarantine(self, key: str) -> Path | None:
        """Take a blob out of the store, kept aside for the operator where the store can;
        where it went (None: removed)."""
        ...
