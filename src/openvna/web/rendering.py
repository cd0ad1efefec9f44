"""What the web doors share about rendered images: the process's renderer, parsing of the
rendering parameters of PS3.18 Table 8.3.5-1 (``window``, ``viewport``, ``quality``,
``annotation``, ``accept``) into a ``Rendering``, and the image response.

WADO-RS rendered and thumbnail resources (``dicomweb/rendered.py``) and WADO-URI
(``wado_uri/``) both go through here, so a window or viewport means the same on either door.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from starlette.responses import Response

from openvna.dicom.media import Offer, negotiate, parse_accept
from openvna.errors import BadRequest
from openvna.render import RENDERED_TYPES, Region, Renderer, Viewport, Window, parse_annotation
from openvna.render.geometry import MAX_SIZE

__all__ = [
    "RENDERER",
    "image_response",
    "parse_float",
    "parse_positive",
    "parse_quality",
    "parse_viewport",
    "parse_window",
    "rendered_type",
]

RENDERER: Final = Renderer()  # one per process: its cache serves every door
_FUNCTIONS: Final = {"linear": "LINEAR", "linear-exact": "LINEAR_EXACT", "sigmoid": "SIGMOID"}
_OFFERS: Final = tuple(Offer(media_type, multipart=False) for media_type in RENDERED_TYPES)
# Rendered images are made again from stored pixels whenever asked: caches may keep them briefly.
CACHE_CONTROL: Final = "private, max-age=3600"


def rendered_type(query: Mapping[str, str], accept_header: str | None) -> str:
    """The rendered media type: the ``accept`` query parameter (PS3.18 §8.3.3.1, as OHIF sends
    ``?accept=image%2Fjpeg``) over the Accept header; JPEG when anything goes; 406 else."""
    wanted = query.get("accept") or accept_header
    return negotiate(parse_accept(wanted), _OFFERS).media_type


def parse_float(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name} {text!r} is not a number", attribute=name) from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} {text!r} is not a finite number", attribute=name)
    return value


def parse_positive(text: str, name: str, most: int = MAX_SIZE) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= most:
        raise BadRequest(f"{name} {text!r} is not an integer 1..{most}", attribute=name)
    return int(value)


def parse_quality(text: str | None, name: str = "quality") -> int | None:
    """1-100 (PS3.18 Table 8.3.5-1; WADO-URI imageQuality); None when absent."""
    return None if text is None else parse_positive(text, name, 100)


def parse_window(text: str | None) -> Window | None:
    """``center,width[,linear|linear-exact|sigmoid]`` (PS3.18 §8.3.5.1.2)."""
    if text is None:
        return None
    pieces = [piece.strip() for piece in text.split(",")]
    if len(pieces) not in (2, 3):
        raise BadRequest(f"window {text!r} is not center,width[,function]", attribute="window")
    function = "LINEAR"
    if len(pieces) == 3:
        function = _FUNCTIONS.get(pieces[2].lower(), "")
        if not function:
            raise BadRequest(
                f"window function {pieces[2]!r} is not one of {', '.join(_FUNCTIONS)}",
                attribute="window",
            )
    return Window(parse_float(pieces[0], "window"), parse_float(pieces[1], "window"), function)


def parse_viewport(text: str | None) -> tuple[Viewport | None, Region | None]:
    """``vw,vh[,sx,sy,sw,sh]`` (PS3.18 §8.3.5.1.3): output size and an optional source region
    in pixels; empty sx/sy mean 0, empty sw/sh the rest of the image."""
    if text is None:
        return None, None
    pieces = [piece.strip() for piece in text.split(",")]
    if len(pieces) not in (2, 6):
        raise BadRequest(f"viewport {text!r} is not vw,vh[,sx,sy,sw,sh]", attribute="viewport")
    viewport = Viewport(
        parse_positive(pieces[0], "viewport"), parse_positive(pieces[1], "viewport")
    )
    if len(pieces) == 2:
        return viewport, None
    sx, sy = (parse_float(p, "viewport") if p else 0.0 for p in pieces[2:4])
    sw, sh = (parse_float(p, "viewport") if p else float(MAX_SIZE) * 8 for p in pieces[4:6])
    if sw == 0 or sh == 0:
        raise BadRequest("viewport source width and height must not be 0", attribute="viewport")
    return viewport, Region(sx, sy, sw, sh)


def parse_annotations(text: str | None) -> frozenset[str]:
    return parse_annotation(text)


def image_response(data: bytes, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={"Cache-Control": CACHE_CONTROL})
