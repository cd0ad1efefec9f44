"""Retrieve: the stored instances of a study, series or instance, as objects every door reads.

WADO-RS, WADO-URI, C-GET/C-MOVE and rendering all start from the same answer: for each instance,
its identity, transfer syntax and where its bytes are, without opening its blob (the index knows
the size, the frames' spans and the Pixel Data's place). Bytes come out as ``Content``: a whole
blob or spans of it, readable in a thread, or, on a filesystem store, named by its file so that a
server can send it with ``sendfile`` (the zero-copy path stays behind this interface).

Transcoding hooks in through ``Transcoder``: the archive offers the transfer syntaxes a
transcoder can make beside the stored one, and hands out what it makes (PS3.18 §8.7.3.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from pydicom import Dataset, dcmread
from pydicom.multival import MultiValue

from openvna.dicom.part10 import PixelDataLocation
from openvna.errors import ArchiveError, NotAcceptable, NotFound
from openvna.index import InstanceLocation
from openvna.storage import BlobStore

__all__ = ["Content", "Spans", "StoredInstance", "Transcoder", "instance_in", "transcodable"]

Spans = tuple[tuple[int, int], ...]
_SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


@dataclass(frozen=True, slots=True)
class Content:
    """Stored bytes: the whole of a blob, or the concatenation of (offset, length) spans of it.

    Spans serve frames (one span per native frame, one per fragment of a compressed frame, sent
    without item delimiters as PS3.18 §8.7.3.3.2 asks) and bulk data values. ``size`` comes from
    the index; a blob that disagrees is an ArchiveError naming it, never a short body.
    """

    blobs: BlobStore
    key: str
    size: int
    spans: Spans | None = None

    def ranges(self) -> Spans:
        """The (offset, length) pieces that make the content, in order."""
        return self.spans if self.spans is not None else ((0, self.size),)

    @property
    def filename(self) -> str | None:
        """The blob's file, when it lies on a local filesystem (for ``sendfile``)."""
        return self.blobs.filename(self.key)

    @property
    def whole(self) -> bool:
        """The whole blob, whose file must be exactly ``size`` bytes."""
        return self.spans is None

    def open(self) -> BinaryIO:
        """The blob, open for reading (the caller closes it)."""
        return self.blobs.open(self.key)

    def read(self) -> bytes:
        """All the bytes at once (small contents: frames, a blob of a few MB)."""
        with self.open() as handle:
            if self.spans is None:
                data = handle.read(self.size + 1)
                if len(data) != self.size:
                    raise self.mismatch(len(data), self.size)
                return data
            return b"".join(self.read_at(handle, offset, n) for offset, n in self.spans)

    def read_at(self, handle: BinaryIO, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` of an open handle of this blob."""
        handle.seek(offset)
        data = handle.read(length)
        if len(data) != length:
            raise self.mismatch(offset + len(data), offset + length)
        return data

    def mismatch(self, found: int, expected: int) -> ArchiveError:
        return ArchiveError(
            f"blob {self.key!r} holds {found} bytes where the index says {expected}"
        )


class StoredInstance:
    """One stored instance as the index locates it, with the blob store to read it from."""

    __slots__ = ("_blobs", "location")

    def __init__(self, location: InstanceLocation, blobs: BlobStore) -> None:
        self.location = location
        self._blobs = blobs

    @property
    def study_uid(self) -> str:
        return self.location.study_uid

    @property
    def series_uid(self) -> str:
        return self.location.series_uid

    @property
    def sop_uid(self) -> str:
        return self.location.sop_uid

    @property
    def sop_class_uid(self) -> str:
        return self.location.sop_class_uid

    @property
    def transfer_syntax(self) -> str:
        """The transfer syntax the instance is stored in."""
        return self.location.transfer_syntax

    @property
    def pixel_data(self) -> PixelDataLocation | None:
        """Where the Pixel Data value lies in the file, or None when there is none."""
        return self.location.pixel_data

    @property
    def frame_count(self) -> int:
        """How many frames the index could delimit (0 without pixel data, or for video)."""
        return len(self.location.frames)

    def file(self) -> Content:
        """The whole Part 10 file, in the stored transfer syntax."""
        return Content(self._blobs, self.location.blob_key, self.location.size)

    def frames(self, numbers: Sequence[int]) -> list[Content]:
        """The bytes of the frames ``numbers`` (1-based), in that order, as stored.

        NotFound when the instance has no frames or one of them does not exist (PS3.18 Table
        10.4.3-1: the target resource does not exist).
        """
        spans = self.location.frames
        if self.pixel_data is None or not spans:
            raise NotFound(
                f"instance {self.sop_uid} (SOP Class {self.sop_class_uid}) has no Pixel Data,"
                " so it has no frames",
                uid=self.sop_uid,
            )
        beyond = [n for n in numbers if not 1 <= n <= len(spans)]
        if beyond:
            raise NotFound(
                f"instance {self.sop_uid} has {len(spans)} frame(s); frame {beyond[0]} does "
                "not exist",
                uid=self.sop_uid,
            )
        return [self._spans(spans[n - 1]) for n in numbers]

    def pixel_value(self) -> Content:
        """The Pixel Data value as it lies in the file (native pixel data: its bytes)."""
        pixel_data = self.pixel_data
        if pixel_data is None:
            raise NotFound(f"instance {self.sop_uid} has no Pixel Data", uid=self.sop_uid)
        return self._spans(((pixel_data.offset, pixel_data.length),))

    def _spans(self, spans: Sequence[Sequence[int]]) -> Content:
        pieces = tuple((int(offset), int(length)) for offset, length in spans)
        size = sum(length for _, length in pieces)
        return Content(self._blobs, self.location.blob_key, size, pieces)

    def bulk_value(self, path: str) -> bytes:
        """The little endian bytes of the attribute at ``path`` (``tag[/item/tag]...``, tags as
        8 hex digits, items 0-based: the BulkDataURI scheme of docs/internals.md), read from the
        file with pydicom: the rare bulk data that is not Pixel Data. PS3.18 §8.7.3.3 sends bulk
        data little endian, so values of a big endian file are swapped."""
        with self.file().open() as handle:
            ds = dcmread(handle, stop_before_pixels=not path.startswith("7FE0"))
        steps = path.split("/")
        current: Any = ds
        for i in range(0, len(steps) - 1, 2):
            current = self._item(current, steps[i], int(steps[i + 1]), path)
        element = current.get(int(steps[-1], 16)) if isinstance(current, Dataset) else None
        value = None if element is None else element.value
        if isinstance(value, MultiValue | list):
            value = b"".join(value) if all(isinstance(v, bytes) for v in value) else None
        if not isinstance(value, bytes) or not value:
            raise NotFound(f"instance {self.sop_uid} has no bulk data at {path}")
        width = _SWAP_WIDTH.get(str(element.VR)) if element is not None else None
        if width and not ds.is_little_endian:
            value = b"".join(value[i : i + width][::-1] for i in range(0, len(value), width))
        return value

    def _item(self, ds: Any, tag: str, index: int, path: str) -> Dataset:
        element = ds.get(int(tag, 16)) if isinstance(ds, Dataset) else None
        if element is None or element.VR != "SQ" or index >= len(element.value):
            raise NotFound(f"instance {self.sop_uid} has no bulk data at {path}")
        item: Dataset = element.value[index]
        return item


class Transcoder(Protocol):
    """What the pixel pipeline offers the archive: the syntaxes it can make from a stored one,
    and the instance made in one of them (PS3.18 §8.7.3.5.2: the origin server may transcode)."""

    def targets(self, stored: str) -> frozenset[str]:
        """The transfer syntaxes an instance stored in ``stored`` can be converted to."""
        ...

    def transcode(self, instance: StoredInstance, transfer_syntax: str) -> bytes:
        """The instance as a Part 10 file in ``transfer_syntax``."""
        ...


def transcodable(
    instances: Sequence[StoredInstance], transcoder: Transcoder | None
) -> frozenset[str]:
    """The transfer syntaxes every one of ``instances`` can be sent in, as stored or made."""
    offered: frozenset[str] | None = None
    for instance in instances:
        stored = instance.transfer_syntax
        mine = frozenset({stored}) | (transcoder.targets(stored) if transcoder else frozenset())
        offered = mine if offered is None else offered & mine
    return offered or frozenset()


def instance_in(
    instance: StoredInstance, transfer_syntax: str | None, transcoder: Transcoder | None
) -> Content | bytes:
    """The instance's Part 10 file in ``transfer_syntax`` (None: as stored): the stored file
    when it is that syntax, else what the transcoder makes; 406 when nothing can make it."""
    if transfer_syntax is None or transfer_syntax == instance.transfer_syntax:
        return instance.file()
    if transcoder is None or transfer_syntax not in transcoder.targets(instance.transfer_syntax):
        raise NotAcceptable(
            f"instance {instance.sop_uid} is stored as {instance.transfer_syntax} and cannot be "
            f"sent as {transfer_syntax}",
            uid=instance.sop_uid,
        )
    return transcoder.transcode(instance, transfer_syntax)
