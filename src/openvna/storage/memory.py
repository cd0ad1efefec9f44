"""Blobs in a dict, for unit tests that need no disk (as Orthanc's MemoryStorageArea)."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from openvna.errors import NotFound
from openvna.storage.base import Flushing
from openvna.storage.checksum import checksum_of_bytes
from openvna.storage.inflight import Leftovers

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self._spool = Path(tempfile.mkdtemp(prefix="openvna-spool-"))

    def spool_dir(self) -> Path:
        return self._spool

    def filename(self, key: str) -> str | None:
        return None

    def flush(self, source: Path) -> Flushing:
        return Flushing(checksum_of_bytes(source.read_bytes()))

    def checksum(self, key: str) -> str:
        return checksum_of_bytes(self._get(key))

    def put_file(self, key: str, source: Path) -> int:
        data = source.read_bytes()
        source.unlink()
        return self.put_bytes(key, data)

    def put_files(
        self, items: Sequence[tuple[str, Path]], *, flushed: bool = False
    ) -> list[int | Exception]:
        return [self.put_file(key, source) for key, source in items]

    def put_bytes(self, key: str, data: bytes) -> int:
        self.blobs[key] = bytes(data)
        return len(data)

    def _get(self, key: str) -> bytes:
        try:
            return self.blobs[key]
        except KeyError as exc:
            raise NotFound(f"no blob {key!r}") from exc

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._get(key))

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        return self._get(key)[offset : offset + length]

    def size(self, key: str) -> int:
        return len(self._get(key))

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self.blobs

    def placing(self, keys: Sequence[str]) -> AbstractContextManager[None]:
        return contextlib.nullcontext()  # one process: nothing to tell others

    def leftovers(self) -> Leftovers:
        return Leftovers((), ())

    def clear_leftovers(self, found: Leftovers) -> None:
        return None

    def in_flight(self) -> set[str]:
        return set()

    def inventory(self) -> Iterator[tuple[str, int]]:
        return iter([(key, len(data)) for key, data in self.blobs.items()])

    def quarantine(self, key: str) -> Path | None:
        self.delete(key)
        return None
