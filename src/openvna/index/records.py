"""The values that cross the index boundary (docs/internals.md, ``openvna.index``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import orjson

from openvna.dicom.json import DicomJson
from openvna.dicom.part10 import PixelDataLocation

__all__ = [
    "AddResult",
    "Frames",
    "InstanceLocation",
    "InstanceRecord",
    "Page",
]

# Per frame, the (file offset, length) of its fragment(s); native pixel data has one span a frame.
Frames = tuple[tuple[tuple[int, int], ...], ...]


@dataclass(frozen=True)
class InstanceRecord:
    """What the archive hands the index for one stored instance."""

    metadata: DicomJson
    transfer_syntax: str
    blob_key: str
    size: int
    frames: Frames = ()
    pixel_data: PixelDataLocation | None = None
    checksum: str | None = None


@dataclass(frozen=True)
class AddResult:
    """``existed``: the SOP Instance UID was known; ``stored``: this record was written."""

    existed: bool
    old_blob_key: str | None
    stored: bool


@dataclass(frozen=True)
class Page:
    """One page of matches; ``remaining`` counts the matches after it, ``unsupported`` the
    keywords whose matching was ignored (PS3.18 §8.3.4.1 lets the origin server skip them, with
    a warning)."""

    datasets: list[DicomJson]
    remaining: int
    unsupported: list[str]


class InstanceLocation(NamedTuple):
    """Everything retrieval needs about one instance, without opening its blob: a row of the
    index's locate query as it comes. A study retrieve locates hundreds of instances and reads
    none of their frames; a frozen dataclass per row, with its frames decoded and its pixel data
    reference built, cost it ~1 ms of its ~40."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    transfer_syntax: str
    blob_key: str
    size: int
    frames_json: str  # the frames' spans as the index keeps them
    pixel_vr: str | None
    pixel_offset: int | None
    pixel_length: int | None
    pixel_encapsulated: bool | None

    @property
    def frames(self) -> Frames:
        """Per frame, the (offset, length) spans of its bytes in the blob."""
        return tuple(tuple(map(tuple, spans)) for spans in orjson.loads(self.frames_json))

    @property
    def pixel_data(self) -> PixelDataLocation | None:
        # The three columns are written together (index/extract.py): all set or all NULL.
        if self.pixel_vr is None or self.pixel_offset is None or self.pixel_length is None:
            return None
        encapsulated = bool(self.pixel_encapsulated)
        return PixelDataLocation(self.pixel_vr, self.pixel_offset, self.pixel_length, encapsulated)
