"""A DICOM file outside the archive seen as a ``StoredInstance``, so that the command-line tools
(``openvna render``, ``openvna transcode``, as dcm4che's dcm2jpg and dcm2dcm) run the very
pipeline the archive's doors run. The file is parsed as ingest parses it (``read_header``:
frame spans, Pixel Data place), and read in place."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, cast

import orjson

from openvna.archive import StoredInstance
from openvna.dicom.part10 import read_header
from openvna.index import InstanceLocation
from openvna.storage import BlobStore

__all__ = ["file_instance"]


class _OneFile:
    """The reading side of a blob store over one file (all ``Content`` uses)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self, key: str) -> BinaryIO:
        return self.path.open("rb")

    def filename(self, key: str) -> str | None:
        return str(self.path)


def file_instance(path: Path) -> StoredInstance:
    """The Part 10 file at ``path`` as an instance (InvalidDicom when it is not one)."""
    header = read_header(path)
    ds = header.dataset
    stat = path.stat()
    pixels = header.pixel_data
    location = InstanceLocation(
        study_uid=str(ds.get("StudyInstanceUID", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        sop_uid=str(ds.get("SOPInstanceUID", "")),
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        transfer_syntax=header.transfer_syntax,
        # The key names the file's content (path, time, size): the header cache keys on it.
        blob_key=f"file:{path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}",
        size=header.file_size,
        frames_json=orjson.dumps(header.frames).decode(),
        pixel_vr=pixels.vr if pixels else None,
        pixel_offset=pixels.offset if pixels else None,
        pixel_length=pixels.length if pixels else None,
        pixel_encapsulated=pixels.encapsulated if pixels else None,
    )
    # StoredInstance reads through Content, which only opens and names blobs.
    return StoredInstance(location, cast(BlobStore, _OneFile(path)))
