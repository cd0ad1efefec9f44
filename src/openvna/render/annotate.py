"""Burned-in annotation (PS3.18 §8.3.5.1.1, WADO-URI ``annotation``): ``patient`` and
``technique`` text drawn on the rendered image after every other step (STANDARDS.md WU-14).
What is shown is the server's choice (the standard leaves it so): name, ID and birth date for
``patient``; modality, window, frame and size for ``technique``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom import Dataset

from openvna.errors import BadRequest
from openvna.render.lut import Window

__all__ = ["ANNOTATIONS", "annotate", "parse_annotation"]

ANNOTATIONS: Final = ("patient", "technique")

Array = np.ndarray[Any, Any]


def parse_annotation(text: str | None) -> frozenset[str]:
    """``patient``, ``technique`` or both, comma separated; anything else is a 400."""
    if not text:
        return frozenset()
    words = {word.strip().lower() for word in text.split(",") if word.strip()}
    unknown = sorted(words - set(ANNOTATIONS))
    if unknown:
        raise BadRequest(
            f"annotation {unknown[0]!r} is not one of {', '.join(ANNOTATIONS)}",
            attribute="annotation",
        )
    return frozenset(words)


def annotate(
    pixels: Array,
    header: Dataset,
    what: Collection[str],
    window: Window | None,
    frame: int,
) -> Array:
    """The image with the chosen text drawn in its corners (white on a dark shadow)."""
    if not what:
        return pixels
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    size = max(10, min(image.size) // 28)
    font = ImageFont.load_default(size=size)
    fill: int | tuple[int, int, int] = 255 if image.mode == "L" else (255, 255, 255)
    shadow: int | tuple[int, int, int] = 0 if image.mode == "L" else (0, 0, 0)
    if "patient" in what:
        lines = [
            str(header.get("PatientName", "") or ""),
            f"ID {header.get('PatientID', '') or ''}",
            f"DOB {header.get('PatientBirthDate', '') or ''}",
        ]
        _text(draw, (4, 4), "\n".join(lines), font, fill, shadow)
    if "technique" in what:
        shown = window or None
        lines = [
            f"{header.get('Modality', '')} {header.get('Rows', '')}x{header.get('Columns', '')}",
            f"frame {frame}",
        ]
        if shown is not None:
            lines.append(f"W {shown.width:g} C {shown.center:g}")
        top = int(image.size[1] - 4 - len(lines) * (size + 4))
        _text(draw, (4, max(top, 0)), "\n".join(lines), font, fill, shadow)
    result: Array = np.asarray(image)
    return result


def _text(
    draw: ImageDraw.ImageDraw,
    at: tuple[int, int],
    text: str,
    font: Any,
    fill: int | tuple[int, int, int],
    shadow: int | tuple[int, int, int],
) -> None:
    draw.multiline_text((at[0] + 1, at[1] + 1), text, font=font, fill=shadow)
    draw.multiline_text(at, text, font=font, fill=fill)
