"""The pixel service: decode frames, run the display pipeline, encode rendered images and
thumbnails, transcode instances (issue 14; PS3.18 §8.3.5, §8.7.3-4, §9; PS3.3 C.11).

A service beside ``archive``: it reads stored instances through ``StoredInstance`` and never sees
HTTP; the web doors (rendered, thumbnail, frames, WADO-URI) and the CLI are thin adapters on it.
"""

from openvna.render.annotate import parse_annotation
from openvna.render.cache import RenderCache
from openvna.render.frames import Decoded, decode_frame, frame_count, header_of
from openvna.render.geometry import Region, Viewport
from openvna.render.images import GIF, JPEG, PNG, RENDERED_TYPES
from openvna.render.lut import Window, display
from openvna.render.service import Renderer, Rendering
from openvna.render.transcode import PixelTranscoder, decodable

__all__ = [
    "GIF",
    "JPEG",
    "PNG",
    "RENDERED_TYPES",
    "Decoded",
    "PixelTranscoder",
    "Region",
    "RenderCache",
    "Renderer",
    "Rendering",
    "Viewport",
    "Window",
    "decodable",
    "decode_frame",
    "display",
    "frame_count",
    "header_of",
    "parse_annotation",
]
