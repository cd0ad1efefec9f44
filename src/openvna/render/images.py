"""Rendered media types (PS3.18 §8.7.4): 8-bit images as JPEG, PNG or GIF bytes.

Encoders chosen by measurement on this machine (bench/RESULTS.md): simplejpeg (libjpeg-turbo) for
JPEG, baseline Huffman as §8.7.4 asks; Pillow for PNG (zlib level 1: a rendered image is sent
once, and level 6 costs several times the time for ~10 % fewer bytes) and GIF (animated for a
multi-frame instance, §8.7.4.2).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import simplejpeg
from PIL import Image

from openvna.errors import BadRequest

__all__ = ["DEFAULT_QUALITY", "RENDERED_TYPES", "encode_animation", "encode_image"]

JPEG: Final = "image/jpeg"
PNG: Final = "image/png"
GIF: Final = "image/gif"
RENDERED_TYPES: Final = (JPEG, PNG, GIF)
DEFAULT_QUALITY: Final = 90
GIF_FRAME_MS: Final = 100

Array = np.ndarray[Any, Any]


def encode_image(pixels: Array, media_type: str, quality: int = DEFAULT_QUALITY) -> bytes:
    """One 8-bit image (rows, columns) or (rows, columns, 3) in ``media_type``."""
    if not 1 <= quality <= 100:
        raise BadRequest(f"quality {quality} is not 1..100", attribute="quality")
    if media_type == JPEG:
        gray = pixels.ndim == 2
        data = np.ascontiguousarray(pixels[..., None] if gray else pixels)
        encoded: bytes = simplejpeg.encode_jpeg(
            data, quality=quality, colorspace="GRAY" if gray else "RGB", colorsubsampling="444"
        )
        return encoded
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    if media_type == PNG:
        image.save(buffer, format="PNG", compress_level=1)
    elif media_type == GIF:
        _gif(image).save(buffer, format="GIF")
    else:
        raise BadRequest(f"{media_type} is not a rendered media type", attribute="accept")
    return buffer.getvalue()


def encode_animation(frames: Sequence[Array]) -> bytes:
    """Several 8-bit images as one animated GIF (a multi-frame instance rendered, §8.7.4)."""
    images = [_gif(Image.fromarray(frame)) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=GIF_FRAME_MS,
        loop=0,
    )
    return buffer.getvalue()


def _gif(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else image.quantize(256)
