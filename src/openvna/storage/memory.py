"""Blobs in a dict, for unit tests that need no disk (as Orthanc's MemoryStorageArea)."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from openvna.errors import NotFound

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self._spool = Path(tempfile.mkdtemp(prefix="openvna-spool-"))

    def spool_dir(self) -> Path:
        return self._spool

    def filename(self, key: str) -> str | None:
        return None

    def flush(self, source: Path) -> None:
        return None

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
