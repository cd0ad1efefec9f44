"""Getting an instance's bytes into the spool as a Part 10 file, whatever door they came through.

The store takes ownership of spool files (``Archive.store_files``), so every door hands it the
same thing: STOW-RS parts are spooled while the body streams in, ``openvna import`` copies a
file, DIMSE writes what the peer sent, generated objects are encoded. Each way in lives here, with
the one repair the archive makes to what a client sent: a missing PS3.10 preamble.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pydicom import Dataset

from openvna.dicom.part10 import write_part10
from openvna.errors import BadRequest, OutOfResources

__all__ = ["ENCODING_ERRORS", "add_missing_preamble", "spool_dataset", "spool_stream"]

_PREAMBLE = bytes(128) + b"DICM"
_COPY_CHUNK = 1 << 20
# What pydicom raises when it cannot encode a value it was given (a US out of range, say);
# pydicom 3 wraps most of them in an OSError without errno (``pydicom.tag.tag_in_exception``).
ENCODING_ERRORS = (ValueError, TypeError, OverflowError, struct.error)


@contextmanager
def _new_file(spool_dir: Path, prefix: str) -> Iterator[tuple[BinaryIO, Path]]:
    """A fresh spool file open for writing, removed again if the block fails; a full or missing
    spool is OutOfResources (PS3.4 C.4.2.1.4 / PS3.18 Table 10.5.3-2: A700)."""
    try:
        fd, name = tempfile.mkstemp(dir=spool_dir, prefix=prefix, suffix=".dcm")
    except OSError as exc:
        raise OutOfResources(f"cannot create a spool file: {exc.strerror}") from exc
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def spool_stream(spool_dir: Path, source: BinaryIO, head: bytes = b"") -> Path:
    """Copy ``head`` then the rest of ``source`` into a new spool file and return its path.

    A source that cannot be read is a BadRequest naming the reason; a spool that cannot be
    written is OutOfResources.
    """
    with _new_file(spool_dir, "in-") as (target, path):
        _write(target, head)
        while True:
            try:
                chunk = source.read(_COPY_CHUNK)
            except OSError as exc:
                raise BadRequest(f"cannot read the instance: {exc.strerror or exc}") from exc
            if not chunk:
                break
            _write(target, chunk)
    return path


def _write(target: BinaryIO, data: bytes) -> None:
    try:
        target.write(data)
    except OSError as exc:
        raise OutOfResources(f"cannot write to the spool: {exc.strerror}") from exc


def spool_dataset(spool_dir: Path, ds: Dataset) -> Path:
    """Encode a dataset built in memory (STOW-RS metadata with bulk data, demo, generated
    objects) as a Part 10 spool file. Values pydicom cannot encode raise ENCODING_ERRORS."""
    with _new_file(spool_dir, "ds-") as (_, path):
        try:
            write_part10(ds, path)
        except OSError as exc:
            if exc.errno is None:  # pydicom's wrapper of an encoding error, not the disk's
                raise ValueError(str(exc).splitlines()[0]) from exc
            raise OutOfResources(f"cannot write to the spool: {exc.strerror}") from exc
    return path


def add_missing_preamble(path: Path) -> bool:
    """Prepend the 128-byte preamble and ``DICM`` to a file that starts with its File Meta
    group instead; True when the file was repaired.

    PS3.10 §7.1 requires them, but some clients (dicomweb-client with pydicom 3's default
    ``dcmwrite``) send the File Meta group without them: such an instance is repaired rather
    than refused, and stored as a conformant Part 10 file.
    """
    with path.open("rb") as handle:
        head = handle.read(len(_PREAMBLE))
        if head[128:132] == b"DICM" or not _starts_with_file_meta(head):
            return False
        handle.seek(0)
        repaired = spool_stream(path.parent, handle, _PREAMBLE)
    os.replace(repaired, path)
    return True


def _starts_with_file_meta(head: bytes) -> bool:
    """Group 0002 in explicit VR little endian: tag group 2, then a two-letter VR."""
    return head[:2] == b"\x02\x00" and head[4:6].isalpha() and head[4:6].isupper()
