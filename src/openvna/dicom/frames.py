"""Where each frame of Pixel Data lies in a file (PS3.5 §8.2, Annex A.4).

WADO-RS frame retrieval reads frames straight from the stored file, so ingest records, per frame,
the (file offset, length) of its bytes: one span for native data, one span per fragment for
encapsulated data. Fragments are assigned to frames with the Extended Offset Table, one fragment
per frame, the Basic Offset Table, or JPEG end-of-image markers, in that order of trust.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from pydicom.filebase import ReadableBuffer

from openvna.errors import InvalidDicom

__all__ = ["Fragment", "Span", "encapsulated_frames", "native_frames", "read_fragments"]

Span = tuple[int, int]
"""(offset in the file, length in bytes)."""

_ITEM = 0xFFFEE000
_SEQUENCE_DELIMITER = 0xFFFEE0DD
_EOI = b"\xff\xd9"  # JPEG, JPEG-LS and JPEG 2000 codestreams end with this marker
# MPEG-2, H.264/AVC and H.265/HEVC (PS3.5 §8.2.5-8.2.8): one stream, frames not separable.
_VIDEO_PREFIX = "1.2.840.10008.1.2.4.10"


@dataclass(frozen=True)
class Fragment:
    """One item of encapsulated Pixel Data: where its item tag is and where its data is."""

    item_offset: int
    offset: int
    length: int


def native_frames(
    offset: int, length: int, frame_count: int, frame_bits: int
) -> tuple[tuple[Span, ...], ...]:
    """Spans of native frames, counted in bits because 1-bit frames are packed (PS3.5 §8.1.1).

    A frame that does not start on a byte boundary gets the span of the bytes holding it; the
    reader must shift by ``(index * frame_bits) % 8`` bits.
    """
    needed = -(-frame_count * frame_bits // 8)
    if length < needed:
        raise InvalidDicom(
            f"Pixel Data holds {length} bytes but {frame_count} frame(s) of {frame_bits} bits "
            f"need {needed}: the file is truncated or its image attributes are wrong"
        )
    spans = []
    for index in range(frame_count):
        start = index * frame_bits // 8
        end = -(-(index + 1) * frame_bits // 8)
        spans.append(((offset + start, end - start),))
    return tuple(spans)


def read_fragments(stream: ReadableBuffer, offset: int, size: int) -> tuple[list[Fragment], int]:
    """Read the items of encapsulated Pixel Data starting at ``offset`` (PS3.5 A.4).

    Returns the items (the first is the Basic Offset Table) and the value length up to, not
    including, the Sequence Delimiter; raises :class:`InvalidDicom` when the items run past the
    end of the file or something other than an item appears.
    """
    items: list[Fragment] = []
    position = offset
    while True:
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            raise InvalidDicom(
                f"encapsulated Pixel Data is truncated at byte {position} of {size}: "
                "no Sequence Delimiter"
            )
        group, element, length = struct.unpack("<HHL", header)
        tag = group << 16 | element
        if tag == _SEQUENCE_DELIMITER:
            return items, position - offset
        if tag != _ITEM or length == 0xFFFFFFFF:
            raise InvalidDicom(
                f"encapsulated Pixel Data has ({group:04X},{element:04X}) at byte {position} "
                "where an item or the Sequence Delimiter must be"
            )
        if position + 8 + length > size:
            raise InvalidDicom(
                f"encapsulated Pixel Data is truncated: the item at byte {position} declares "
                f"{length} bytes but the file ends at {size}"
            )
        items.append(Fragment(position, position + 8, length))
        position += 8 + length


def encapsulated_frames(
    stream: ReadableBuffer,
    items: list[Fragment],
    frame_count: int,
    transfer_syntax: str,
    extended_offsets: list[int] | None,
) -> tuple[tuple[Span, ...], ...]:
    """Assign fragments to frames; ``()`` when the boundaries cannot be known (video)."""
    if not items or transfer_syntax.startswith(_VIDEO_PREFIX):
        return ()
    table, fragments = items[0], items[1:]
    if not fragments:
        return ()
    first = fragments[0].item_offset
    starts = [f.item_offset - first for f in fragments]
    groups = (
        _by_offsets(fragments, starts, extended_offsets, frame_count, exact=True)
        or (_one_each(fragments) if len(fragments) == frame_count else None)
        or _by_offsets(fragments, starts, _offsets(stream, table), frame_count, exact=False)
        or ([fragments] if frame_count == 1 else None)
        or _by_end_markers(stream, fragments, frame_count)
    )
    if not groups:
        return ()
    return tuple(tuple((f.offset, f.length) for f in group) for group in groups)


def _one_each(fragments: list[Fragment]) -> list[list[Fragment]]:
    return [[f] for f in fragments]


def _offsets(stream: ReadableBuffer, table: Fragment) -> list[int] | None:
    """The Basic Offset Table: 32-bit offsets of each frame's first item (PS3.5 A.4)."""
    if table.length == 0 or table.length % 4:
        return None
    stream.seek(table.offset)
    data = stream.read(table.length)
    return list(struct.unpack(f"<{table.length // 4}L", data))


def _by_offsets(
    fragments: list[Fragment],
    starts: list[int],
    offsets: list[int] | None,
    frame_count: int,
    *,
    exact: bool,
) -> list[list[Fragment]] | None:
    """Group fragments by frame start offsets; None when the table does not fit the items."""
    if not offsets or len(offsets) != frame_count or offsets[0] != 0:
        return None
    index = {start: i for i, start in enumerate(starts)}
    if any(o not in index for o in offsets) or offsets != sorted(offsets):
        return None
    bounds = [index[o] for o in offsets] + [len(fragments)]
    groups = [fragments[a:b] for a, b in itertools.pairwise(bounds)]
    if any(not g for g in groups) or (exact and any(len(g) != 1 for g in groups)):
        return None
    return groups


def _by_end_markers(
    stream: ReadableBuffer, fragments: list[Fragment], frame_count: int
) -> list[list[Fragment]] | None:
    """Without offset tables, a frame ends with the fragment ending in an EOI marker."""
    groups: list[list[Fragment]] = []
    current: list[Fragment] = []
    for fragment in fragments:
        current.append(fragment)
        tail_length = min(fragment.length, 3)
        stream.seek(fragment.offset + fragment.length - tail_length)
        tail = stream.read(tail_length)
        if tail.endswith(_EOI) or (tail[:2] == _EOI and tail.endswith(b"\x00")):
            groups.append(current)
            current = []
    if current or len(groups) != frame_count:
        return None
    return groups
