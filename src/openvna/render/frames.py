"""Decoding: one frame of a stored instance as a NumPy array, never the whole object.

The index knows where each frame lies in the blob (``StoredInstance.frames``), so a frame of a
multi-GB multi-frame instance costs one read of its own bytes and one decode (PS3.5 §8.2: each
frame of encapsulated pixel data is compressed on its own). The header (the data set up to Pixel
Data) is parsed once per blob and kept in a small cache: blob keys change when an instance is
replaced, so a cached header can never be stale. Decoding is pydicom 3's pixel backends
(``pydicom.pixels``), which dispatch to pylibjpeg(-libjpeg, -openjpeg, -rle) and pyjpegls
(STANDARDS.md §9 B1); YBR colour comes out as RGB (PS3.3 C.7.6.3.1.2).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import imagecodecs
import numpy as np
from pydicom import Dataset, dcmread
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID

from openvna.archive import StoredInstance
from openvna.errors import BadRequest, NotAcceptable, NotFound

__all__ = ["Decoded", "decode_frame", "frame_count", "header_of", "pixel_options"]

_HEADERS: Final[OrderedDict[str, Dataset]] = OrderedDict()
_HEADERS_LOCK: Final = threading.Lock()
HEADER_CACHE_ENTRIES: Final = 256
# Deflated data sets (PS3.5 A.5): the index cannot delimit frames inside the deflated stream.
DEFLATED: Final = "1.2.840.10008.1.2.1.99"
_HTJ2K_SYNTAXES: Final = frozenset({f"1.2.840.10008.1.2.4.{n}" for n in (201, 202, 203)})
# OpenJPEG decodes a frame's code-blocks on this many threads: a 512x512 lossless CT slice in
# ~20 ms rather than ~33 ms when two cores are free (bench/RESULTS.md).
DECODE_THREADS: Final = min(os.cpu_count() or 1, 4)
_J2K_SYNTAXES: Final = _HTJ2K_SYNTAXES | {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded frame: ``pixels`` (rows, columns[, samples]) and the photometric
    interpretation they are now in (YBR decoded to RGB says RGB)."""

    pixels: np.ndarray[Any, Any]
    photometric: str
    header: Dataset


def header_of(instance: StoredInstance) -> Dataset:
    """The instance's data set without Pixel Data, parsed once per stored blob."""
    key = instance.file().key
    with _HEADERS_LOCK:
        cached = _HEADERS.get(key)
        if cached is not None:
            _HEADERS.move_to_end(key)
            return cached
    with instance.file().open() as handle:
        ds = dcmread(handle, stop_before_pixels=True)
    with _HEADERS_LOCK:
        _HEADERS[key] = ds
        while len(_HEADERS) > HEADER_CACHE_ENTRIES:
            _HEADERS.popitem(last=False)
    return ds


def frame_count(instance: StoredInstance, header: Dataset) -> int:
    """How many frames the instance has (Number of Frames, 1 when absent)."""
    deflated = instance.transfer_syntax == DEFLATED
    if (instance.pixel_data is None and not deflated) or "Rows" not in header:
        return 0
    try:
        return max(int(header.get("NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        return 1


def pixel_options(header: Dataset) -> dict[str, Any]:
    """The Image Pixel module (PS3.3 C.7.6.3) as pydicom's decoder/encoder options."""
    try:
        options: dict[str, Any] = {
            "rows": int(header.Rows),
            "columns": int(header.Columns),
            "samples_per_pixel": int(header.get("SamplesPerPixel", 1) or 1),
            "bits_allocated": int(header.BitsAllocated),
            "bits_stored": int(header.get("BitsStored", header.BitsAllocated)),
            "pixel_representation": int(header.get("PixelRepresentation", 0) or 0),
            "photometric_interpretation": str(header.PhotometricInterpretation),
            "number_of_frames": 1,
            "pixel_keyword": "PixelData",
        }
    except (AttributeError, TypeError, ValueError) as exc:
        raise NotAcceptable(f"the Image Pixel module is incomplete or invalid: {exc}") from exc
    if options["samples_per_pixel"] > 1:
        options["planar_configuration"] = int(header.get("PlanarConfiguration", 0) or 0)
    return options


def decode_frame(instance: StoredInstance, number: int) -> Decoded:
    """Frame ``number`` (1-based) of ``instance``, decoded.

    400 for a frame that does not exist (PS3.18 §10.4.1.1.7 names frame numbers the client
    must know); 406 with the reason when the stored syntax or the bytes cannot be decoded.
    """
    header = header_of(instance)
    total = frame_count(instance, header)
    if total == 0:
        raise NotFound(f"instance {instance.sop_uid} has no Pixel Data", uid=instance.sop_uid)
    if not 1 <= number <= total:
        raise BadRequest(
            f"instance {instance.sop_uid} has {total} frame(s); frame {number} does not exist",
            attribute="frame",
        )
    options = pixel_options(header)
    syntax = UID(instance.transfer_syntax)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise _undecodable(instance, number, f"no decoder for {syntax}") from exc
    try:
        if instance.frame_count >= number:
            (content,) = instance.frames([number])
            data = content.read()
            fast = _openjpeg_direct(syntax, data, options)
            if fast is not None:
                return Decoded(fast, options["photometric_interpretation"], header)
            source = encapsulate([data]) if syntax.is_compressed else data
            array, meta = decoder.as_array(source, index=0, **options)
        else:
            # No frame spans (deflated data sets): decode from the file, this frame only.
            array, meta = _decode_from_file(instance, number - 1)
    except (ValueError, RuntimeError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise _undecodable(instance, number, str(exc).splitlines()[0][:300]) from exc
    photometric = str(meta.get("photometric_interpretation", options["photometric_interpretation"]))
    return Decoded(array, photometric, header)


def _openjpeg_direct(
    syntax: str, data: bytes, options: dict[str, Any]
) -> np.ndarray[Any, Any] | None:
    """A grayscale JPEG 2000 / HTJ2K frame decoded by imagecodecs (OpenJPEG, OpenJPH), about a
    third faster than through pylibjpeg-openjpeg (measured on bench CT frames): taken only when
    its result is exactly what pydicom's path gives (shape, signedness, width); None otherwise,
    and pydicom decodes (colour, sign mismatches between codestream and header...)."""
    if syntax not in _J2K_SYNTAXES or options["samples_per_pixel"] != 1:
        return None
    try:
        if syntax in _HTJ2K_SYNTAXES:
            array: np.ndarray[Any, Any] = imagecodecs.htj2k_decode(data)
        else:
            array = imagecodecs.jpeg2k_decode(data, numthreads=DECODE_THREADS)
    except (imagecodecs.Jpeg2kError, imagecodecs.Htj2kError, ValueError, RuntimeError):
        return None
    kind = "i" if options["pixel_representation"] else "u"
    width = 1 if options["bits_allocated"] <= 8 else 2
    if (
        array.shape != (options["rows"], options["columns"])
        or array.dtype.kind != kind
        or array.dtype.itemsize != width
    ):
        return None
    return array


def _decode_from_file(instance: StoredInstance, index: int) -> tuple[Any, dict[str, Any]]:
    with instance.file().open() as handle:
        ds = dcmread(handle)
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    array, meta = decoder.as_array(ds, index=index)
    return array, dict(meta)


def _undecodable(instance: StoredInstance, number: int, reason: str) -> NotAcceptable:
    return NotAcceptable(
        f"frame {number} of instance {instance.sop_uid} (stored as {instance.transfer_syntax}) "
        f"cannot be decoded: {reason}",
        uid=instance.sop_uid,
    )
