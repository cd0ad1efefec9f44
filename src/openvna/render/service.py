"""The pixel service: rendered images, thumbnails and frames in other encodings.

Every door (WADO-RS rendered and thumbnail resources, frames, WADO-URI, the CLI) states what it
wants as a ``Rendering`` and gets bytes back; HTTP parameters are parsed by the doors. Rendered
images of the same frame and parameters come from a bounded cache (``RenderCache``); the key is
the stored blob's key, which changes whenever an instance is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np

from openvna.archive import StoredInstance
from openvna.errors import NotAcceptable, NotFound
from openvna.render.annotate import annotate
from openvna.render.cache import RenderCache
from openvna.render.codecs import encode_frame, native_bytes, png_frame
from openvna.render.frames import decode_frame, frame_count, header_of
from openvna.render.geometry import Region, Viewport, fit
from openvna.render.images import DEFAULT_QUALITY, GIF, JPEG, encode_animation, encode_image
from openvna.render.lut import Window, display

__all__ = ["MAX_ANIMATION_FRAMES", "THUMBNAIL", "Renderer", "Rendering"]

THUMBNAIL: Final = Viewport(128, 128)
MAX_ANIMATION_FRAMES: Final = 500

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class Rendering:
    """What to make of a frame (PS3.18 Table 8.3.5-1; WADO-URI §9.4.1.2)."""

    media_type: str = JPEG
    quality: int = DEFAULT_QUALITY
    window: Window | None = None
    viewport: Viewport | None = None
    # A source region: in pixels (viewport sx,sy,sw,sh) or as fractions (WADO-URI region).
    region: Region | None = None
    region_is_fraction: bool = False
    annotation: frozenset[str] = field(default_factory=frozenset)
    # Spatial transformation of a presentation state (PS3.3 C.10.6): flip, then degrees.
    rotation: int = 0
    flip: bool = False


class Renderer:
    """Renders frames of stored instances; one per process, shared by its threads."""

    def __init__(self, cache: RenderCache | None = None) -> None:
        self.cache = cache if cache is not None else RenderCache()

    def render_frame(self, instance: StoredInstance, number: int, how: Rendering) -> bytes:
        """Frame ``number`` (1-based) rendered as ``how`` says, from the cache when made."""
        key = (instance.file().key, number, how)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        image = encode_image(self.pixels(instance, number, how), how.media_type, how.quality)
        self.cache.put(key, image)
        return image

    def render_instance(self, instance: StoredInstance, how: Rendering) -> bytes:
        """The instance rendered: its one frame, or, as GIF, every frame animated (§8.7.4)."""
        total = frame_count(instance, header_of(instance))
        if total == 0:
            raise _no_pixels(instance)
        if how.media_type != GIF or total == 1:
            return self.render_frame(instance, 1, how)
        key = (instance.file().key, 0, how)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        count = min(total, MAX_ANIMATION_FRAMES)
        frames = [self.pixels(instance, n, how) for n in range(1, count + 1)]
        image = encode_animation(frames)
        self.cache.put(key, image)
        return image

    def thumbnail(self, instances: Sequence[StoredInstance], how: Rendering) -> bytes:
        """One representative image of a study, series or instance (PS3.18 §10.4.3.3.4): the
        middle frame of the middle image, no patient information, a small viewport."""
        imaged = [i for i in instances if i.pixel_data is not None]
        if not imaged:
            raise NotFound("there is no image to make a thumbnail of")
        chosen = imaged[len(imaged) // 2]
        total = frame_count(chosen, header_of(chosen))
        if total == 0:
            raise _no_pixels(chosen)
        small = replace(how, viewport=how.viewport or THUMBNAIL, annotation=frozenset())
        return self.render_frame(chosen, (total + 1) // 2, small)

    def pixels(self, instance: StoredInstance, number: int, how: Rendering) -> Array:
        """The 8-bit image of frame ``number`` after LUTs, geometry and annotation."""
        decoded = decode_frame(instance, number)
        pixels = display(decoded.pixels, decoded.photometric, decoded.header, how.window)
        # PS3.3 C.10.6.1.1: the horizontal flip first, then the clockwise rotation.
        if how.flip:
            pixels = np.ascontiguousarray(pixels[:, ::-1])
        if how.rotation:
            pixels = np.ascontiguousarray(np.rot90(pixels, k=-(how.rotation // 90) % 4))
        if how.region is not None:
            pixels = how.region.crop(pixels, how.region_is_fraction)
        pixels = fit(pixels, how.viewport)
        return annotate(pixels, decoded.header, how.annotation, how.window, number)

    def frame_as(self, instance: StoredInstance, number: int, syntax: str | None) -> bytes:
        """Frame ``number`` decoded and re-encoded: ``syntax`` None gives native little endian
        values (PS3.18 Table 8.7.3-4), a compressed syntax its bit stream (Table 8.7.3-5)."""
        decoded = decode_frame(instance, number)
        if syntax is None:
            return native_bytes(decoded)
        return encode_frame(decoded, syntax).data

    def frame_png(self, instance: StoredInstance, number: int) -> bytes:
        """Frame ``number`` as a lossless PNG of its stored values."""
        return png_frame(decode_frame(instance, number))


def _no_pixels(instance: StoredInstance) -> NotAcceptable:
    return NotAcceptable(
        f"instance {instance.sop_uid} (SOP Class {instance.sop_class_uid}) has no image to render",
        uid=instance.sop_uid,
    )
