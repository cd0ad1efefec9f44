"""The grayscale and colour display pipeline: stored values to 8-bit display values.

PS3.4 N.2 in order: Modality LUT (rescale or LUT Sequence, PS3.3 C.11.1), VOI LUT (a window with
the linear, linear-exact or sigmoid function of PS3.3 C.11.2.1.2, or a VOI LUT Sequence), then
the Presentation LUT (identity, or inverse for MONOCHROME1 and Presentation LUT Shape INVERSE,
C.11.6). Colour images are already RGB when decoded; PALETTE COLOR goes through its LUTs
(C.7.9). Rendered images carry at most 8 bits a channel (PS3.18 §8.7.4), so the window maps onto
0..255 directly rather than onto the bits stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from pydicom import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi

from openvna.errors import BadRequest

__all__ = ["FUNCTIONS", "Window", "display", "window_of_header"]

FUNCTIONS: Final = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
_MONOCHROME: Final = ("MONOCHROME1", "MONOCHROME2")
# Below this many pixels a frame is mapped pixel by pixel (a table would not be cheaper).
_TABLE_MIN_PIXELS: Final = 4096

Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class Window:
    """A VOI window (PS3.3 C.11.2.1.2): center, width and function."""

    center: float
    width: float
    function: str = "LINEAR"

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise BadRequest(f"window function {self.function!r} is not one of {FUNCTIONS}")
        if not (np.isfinite(self.center) and np.isfinite(self.width)):
            raise BadRequest("window center and width must be finite numbers", attribute="window")
        least = 1.0 if self.function == "LINEAR" else 0.0
        if self.width < least or (self.function != "LINEAR" and self.width <= 0):
            raise BadRequest(
                f"window width {self.width:g} is impossible for {self.function} "
                f"(PS3.3 C.11.2.1.2: {'>= 1' if self.function == 'LINEAR' else '> 0'})",
                attribute="window",
            )

    def apply(self, values: Array) -> Array:
        """Map values onto 0.0..255.0 (float32) by the function's formula."""
        x = values.astype(np.float32, copy=False)
        c, w = np.float32(self.center), np.float32(self.width)
        y: Array
        if self.function == "SIGMOID":
            y = np.float32(255.0) / (np.float32(1.0) + np.exp(np.float32(-4.0) * (x - c) / w))
            return y
        if self.function == "LINEAR_EXACT":
            y = np.clip(((x - c) / w + np.float32(0.5)) * np.float32(255.0), 0.0, 255.0)
            return y
        if w == 1:  # a threshold (C.11.2.1.2.1)
            y = np.where(x > c - np.float32(0.5), np.float32(255.0), np.float32(0.0))
            return y
        y = ((x - (c - np.float32(0.5))) / (w - np.float32(1.0)) + np.float32(0.5)) * np.float32(
            255.0
        )
        clipped: Array = np.clip(y, 0.0, 255.0)
        return clipped


def window_of_header(header: Dataset) -> Window | None:
    """The first window of the VOI LUT module (C.11.2), or None when the header has none or an
    unusable one (then the frame's own range is shown)."""
    center, width = header.get("WindowCenter"), header.get("WindowWidth")
    if center is None or width is None or center == "" or width == "":
        return None
    first_center = center[0] if _multi(center) else center
    first_width = width[0] if _multi(width) else width
    function = str(header.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    try:
        return Window(float(first_center), float(first_width), function)
    except (BadRequest, TypeError, ValueError):
        return None


def _multi(value: Any) -> bool:
    return isinstance(value, list | tuple) or type(value).__name__ == "MultiValue"


def display(
    pixels: Array, photometric: str, header: Dataset, window: Window | None = None
) -> Array:
    """8-bit display values: (rows, columns) for grayscale, (rows, columns, 3) for colour."""
    if photometric == "PALETTE COLOR":
        return _to_8bit(apply_color_lut(pixels, header), _palette_bits(header))
    if photometric not in _MONOCHROME:
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        return _to_8bit(pixels, int(header.get("BitsStored", 8) or 8))
    return _grayscale(pixels, photometric, header, window)


def _grayscale(pixels: Array, photometric: str, header: Dataset, window: Window | None) -> Array:
    """Grayscale stored values to display values, through a table when that is cheaper.

    PS3.4 N.2's grayscale pipeline maps each stored value on its own, so an integer frame's
    display values can be computed once per value of its range and looked up: a 512x512 CT
    slice of 12 bits has 262,144 pixels but at most 4,096 values. With the server's malloc
    settings: 0.38 ms instead of 0.51 for a 512x512 slice, 17 ms instead of 36 for a 2048x2048
    image, whose float arrays no longer need fresh pages (bench/RESULTS.md). The table spans
    the frame's own minimum to maximum, so the range a frame without a window is shown in is
    the same either way; a Modality LUT Sequence need not be monotonic, so a frame with one is
    mapped pixel by pixel.
    """
    if (
        pixels.dtype.kind not in "iu"
        or not pixels.dtype.isnative
        or pixels.size < _TABLE_MIN_PIXELS
        or "ModalityLUTSequence" in header
    ):
        return _mapped(pixels, photometric, header, window)
    low, high = int(pixels.min()), int(pixels.max())
    if high - low >= pixels.size // 2:
        return _mapped(pixels, photometric, header, window)
    table = _mapped(np.arange(low, high + 1, dtype=pixels.dtype), photometric, header, window)
    # Offsets from the minimum, computed in the unsigned type of the same width: the modular
    # difference is exact for signed values too, as the range fits the width.
    unsigned = np.dtype(f"u{pixels.dtype.itemsize}")
    offsets = pixels.view(unsigned) - unsigned.type(low % (1 << (8 * pixels.dtype.itemsize)))
    shown: Array = np.take(table, offsets)
    return shown


def _mapped(values: Array, photometric: str, header: Dataset, window: Window | None) -> Array:
    """Modality LUT, VOI LUT and Presentation LUT applied to each value (PS3.4 N.2)."""
    values = apply_modality_lut(values, header)
    if window is not None:
        shown = window.apply(values)
    elif "VOILUTSequence" in header and len(header.VOILUTSequence):
        lut = apply_voi(values, header, index=0)
        bits = int(header.VOILUTSequence[0].LUTDescriptor[2])
        shown = lut.astype(np.float32) * np.float32(255.0 / ((1 << bits) - 1))
    else:
        shown = (window_of_header(header) or _full_range(values)).apply(values)
    shape = str(header.get("PresentationLUTShape", "") or "").upper()
    if photometric == "MONOCHROME1" or shape == "INVERSE":
        shown = np.float32(255.0) - shown
    result: Array = np.rint(shown).astype(np.uint8)
    return result


def _full_range(values: Array) -> Window:
    """Without a window in the header: the frame's own range, linear-exact."""
    low, high = float(values.min()), float(values.max())
    width = max(high - low, 1.0)
    return Window(low + width / 2.0, width, "LINEAR_EXACT")


def _palette_bits(header: Dataset) -> int:
    descriptor = header.get("RedPaletteColorLookupTableDescriptor")
    return int(descriptor[2]) if descriptor is not None else 8


def _to_8bit(values: Array, bits: int) -> Array:
    if values.dtype == np.uint8 and bits <= 8:
        return values
    shift = max(bits - 8, 0)
    scaled = (values.astype(np.int64) >> shift) if shift else values
    result: Array = np.clip(scaled, 0, 255).astype(np.uint8)
    return result
