"""Encoding decoded frames into the bit streams of compressed transfer syntaxes.

Used by the frames resource (a frame in the media type asked for, PS3.18 Table 8.7.3-5) and by
transcoding (a whole instance in another syntax). Encoders (STANDARDS.md §9 B1): pyjpegls for
JPEG-LS, pylibjpeg-openjpeg for JPEG 2000, imagecodecs (OpenJPH) for HTJ2K, pydicom/pylibjpeg-rle
for RLE, simplejpeg (libjpeg-turbo) for JPEG Baseline, Pillow for lossless PNG frames.
pylibjpeg-openjpeg 2.6.0 crashes when two threads encode JPEG 2000 at once, so its encoder runs
under one lock.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any, Final

import imagecodecs
import numpy as np
import simplejpeg
from PIL import Image
from pydicom.pixels.encoders.base import get_encoder
from pydicom.pixels.utils import pack_bits

from openvna.errors import NotAcceptable
from openvna.render.frames import Decoded, pixel_options

__all__ = [
    "ENCODABLE",
    "EXPLICIT_LE",
    "HTJ2K",
    "J2K",
    "JPEG_BASELINE",
    "JPEG_LS",
    "LOSSY",
    "RLE",
    "Encoded",
    "encode_frame",
    "native_bytes",
    "png_frame",
]

EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
JPEG_BASELINE: Final = "1.2.840.10008.1.2.4.50"
JPEG_LS: Final = "1.2.840.10008.1.2.4.80"
J2K: Final = "1.2.840.10008.1.2.4.90"
HTJ2K: Final = "1.2.840.10008.1.2.4.201"
RLE: Final = "1.2.840.10008.1.2.5"
# The syntaxes this module can produce from any decodable frame (JPEG Baseline: 8-bit only).
ENCODABLE: Final = frozenset({EXPLICIT_LE, JPEG_BASELINE, JPEG_LS, J2K, HTJ2K, RLE})
# Lossy ones, with the method term of PS3.3 C.7.6.1.1.5.
LOSSY: Final = {JPEG_BASELINE: "ISO_10918_1"}
JPEG_QUALITY: Final = 90

_J2K_LOCK: Final = threading.Lock()
_HTJ2K_LOCK: Final = threading.Lock()  # OpenJPH's thread safety is not documented

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class Encoded:
    """One frame's bit stream and the photometric interpretation it now carries."""

    data: bytes
    photometric: str


def native_bytes(decoded: Decoded) -> bytes:
    """The frame as native little endian pixel data (PS3.18 Table 8.7.3-4), colour-by-pixel."""
    header = decoded.header
    bits = int(header.BitsAllocated)
    pixels = decoded.pixels
    if bits == 1:
        return pack_bits(pixels)
    dtype = np.dtype(f"{'<i' if pixels.dtype.kind == 'i' else '<u'}{max(bits // 8, 1)}")
    return np.ascontiguousarray(pixels, dtype=dtype).tobytes()


def encode_frame(decoded: Decoded, syntax: str) -> Encoded:
    """The frame as a bit stream of ``syntax`` (one of ENCODABLE except Explicit VR LE)."""
    header = decoded.header
    options = pixel_options(header)
    options["photometric_interpretation"] = decoded.photometric
    if options["samples_per_pixel"] > 1:
        options["planar_configuration"] = 0
    if syntax == JPEG_BASELINE:
        return _jpeg_baseline(decoded, options)
    if syntax == HTJ2K:
        return _htj2k(decoded)
    if syntax not in ENCODABLE or syntax == EXPLICIT_LE:
        raise NotAcceptable(f"frames cannot be encoded as {syntax}")
    pixels = decoded.pixels
    if syntax == J2K and options["samples_per_pixel"] > 1:
        options["use_mct"] = False
    try:
        encoder = get_encoder(syntax)
        if syntax == J2K:
            with _J2K_LOCK:
                data = encoder.encode(pixels, **options)
        else:
            data = encoder.encode(pixels, **options)
    except (RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[-1].strip()[:300]
        raise NotAcceptable(f"this frame cannot be encoded as {syntax}: {reason}") from exc
    return Encoded(bytes(data), decoded.photometric)


def _jpeg_baseline(decoded: Decoded, options: dict[str, Any]) -> Encoded:
    """JPEG Baseline (Process 1, PS3.5 A.4.1): 8-bit samples only; colour as YBR_FULL_422."""
    if options["bits_stored"] > 8 or options["pixel_representation"] != 0:
        raise NotAcceptable(
            f"JPEG Baseline holds 8-bit unsigned samples; these pixels have "
            f"{options['bits_stored']} bits{' (signed)' if options['pixel_representation'] else ''}"
        )
    pixels = decoded.pixels.astype(np.uint8, copy=False)
    if options["samples_per_pixel"] == 1:
        data = simplejpeg.encode_jpeg(
            np.ascontiguousarray(pixels[..., None]), quality=JPEG_QUALITY, colorspace="GRAY"
        )
        return Encoded(data, decoded.photometric)
    if decoded.photometric != "RGB":
        raise NotAcceptable(f"JPEG Baseline cannot hold {decoded.photometric} colour")
    data = simplejpeg.encode_jpeg(
        np.ascontiguousarray(pixels), quality=JPEG_QUALITY, colorspace="RGB", colorsubsampling="422"
    )
    return Encoded(data, "YBR_FULL_422")


def _htj2k(decoded: Decoded) -> Encoded:
    """HTJ2K lossless (PS3.5 A.4.13, reversible 5/3 wavelet: level 0) with OpenJPH."""
    pixels = np.ascontiguousarray(decoded.pixels)
    try:
        with _HTJ2K_LOCK:
            data = imagecodecs.htj2k_encode(pixels, level=0)
    except (imagecodecs.Htj2kError, ValueError, TypeError) as exc:
        raise NotAcceptable(f"this frame cannot be encoded as HTJ2K: {exc}") from exc
    return Encoded(bytes(data), decoded.photometric)


def png_frame(decoded: Decoded) -> bytes:
    """A lossless PNG of the stored values (8/16-bit unsigned grayscale or 8-bit RGB)."""
    pixels = decoded.pixels
    if pixels.dtype.kind != "u" or pixels.dtype.itemsize > 2:
        raise NotAcceptable("image/png frames hold unsigned 8 or 16-bit values only")
    if pixels.ndim == 3 and pixels.dtype.itemsize != 1:
        raise NotAcceptable("image/png colour frames hold 8-bit samples only")
    if pixels.ndim == 2 and pixels.dtype.itemsize == 2:
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype="<u2"))
    else:
        image = Image.fromarray(np.ascontiguousarray(pixels))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
