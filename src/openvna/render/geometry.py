"""Where the rendered image comes from and how big it is: source region and viewport.

PS3.18 §8.3.5.1.3 (Table 8.3.5-1): ``viewport=vw,vh[,sx,sy,sw,sh]`` gives the output size and,
optionally, the source region in pixels (a negative width or height flips that axis); the image
is scaled to fit the viewport with its aspect ratio kept. WADO-URI (PS3.18 §9, STANDARDS.md
WU-07/08) says ``region=xmin,ymin,xmax,ymax`` as fractions 0.0-1.0 and ``rows``/``columns`` for the
viewport. Pipeline order (WU-14): presentation state, region, viewport, annotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from PIL import Image

from openvna.errors import BadRequest

__all__ = ["MAX_SIZE", "Region", "Viewport", "fit"]

MAX_SIZE: Final = 8192  # a viewport beyond this is refused: the output would be hundreds of MB

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class Region:
    """A source rectangle in pixels; negative sizes flip (PS3.18 Table 8.3.5-1)."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def fractions(cls, xmin: float, ymin: float, xmax: float, ymax: float) -> Region:
        """WADO-URI ``region`` (PS3.18 §9.4.1.2): normalised, xmin < xmax, ymin < ymax."""
        if not (0.0 <= xmin < xmax <= 1.0 and 0.0 <= ymin < ymax <= 1.0):
            raise BadRequest(
                "region must be xmin,ymin,xmax,ymax with 0 <= min < max <= 1", attribute="region"
            )
        return cls(xmin, ymin, xmax - xmin, ymax - ymin)

    def crop(self, pixels: Array, normalised: bool = False) -> Array:
        rows, columns = pixels.shape[:2]
        scale_x, scale_y = (columns, rows) if normalised else (1, 1)
        x0, y0 = self.x * scale_x, self.y * scale_y
        x1, y1 = x0 + self.width * scale_x, y0 + self.height * scale_y
        left, right = sorted((round(x0), round(x1)))
        top, bottom = sorted((round(y0), round(y1)))
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, columns), min(bottom, rows)
        if right <= left or bottom <= top:
            raise BadRequest("the source region lies outside the image", attribute="viewport")
        out = pixels[top:bottom, left:right]
        if self.width < 0:
            out = out[:, ::-1]
        if self.height < 0:
            out = out[::-1]
        return np.ascontiguousarray(out)


@dataclass(frozen=True, slots=True)
class Viewport:
    """The output box; the image is scaled to fit it with its aspect ratio kept."""

    width: int
    height: int

    def __post_init__(self) -> None:
        if not (0 < self.width <= MAX_SIZE and 0 < self.height <= MAX_SIZE):
            raise BadRequest(
                f"viewport {self.width}x{self.height}: each side must be 1..{MAX_SIZE}",
                attribute="viewport",
            )


def fit(pixels: Array, viewport: Viewport | None) -> Array:
    """Scale 8-bit pixels to fit ``viewport`` (aspect ratio kept); unchanged without one."""
    if viewport is None:
        return pixels
    rows, columns = pixels.shape[:2]
    scale = min(viewport.width / columns, viewport.height / rows)
    size = (max(round(columns * scale), 1), max(round(rows * scale), 1))
    if size == (columns, rows):
        return pixels
    image = Image.fromarray(pixels)
    # Reducing: a box filter after a cheap first reduction is as good as Lanczos for display and
    # several times faster; enlarging: bilinear.
    resample = Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    resized: Array = np.asarray(image.resize(size, resample, reducing_gap=2.0))
    return resized
