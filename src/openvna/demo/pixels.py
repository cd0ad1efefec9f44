"""Synthetic pixel data that looks like its modality: CT in HU, PET in Bq/ml, projection X-ray.

Everything is sampled from the same synthetic body (``anatomy``) and made noisy with a seeded
numpy Generator, so the demo is the same, byte for byte, on every run.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image

from openvna.demo.anatomy import Plane, Solid, sample, sample_points

__all__ = [
    "CT_INTERCEPT",
    "F18_HALF_LIFE",
    "Radiograph",
    "ct_pixels",
    "decay_factor",
    "jpeg_baseline",
    "pet_activity",
    "projection",
    "quantize",
]

# Stored value = HU + 1024 in 12 bits: -1024..3071 HU, the usual CT range (PS3.3 C.8.2.1.1.3
# leaves BitsStored free; RescaleIntercept -1024 with slope 1 maps it back to HU).
CT_INTERCEPT = -1024
_CT_MAX_STORED = 4095
F18_HALF_LIFE = 6586.2  # s, fluorine-18 (the value scanners write in RadionuclideHalfLife)
_PET_MAX_STORED = 32767


def _smooth(values: npt.NDArray[np.float64], weights: tuple[float, ...]) -> npt.NDArray[np.float64]:
    """Separable convolution with a short symmetric kernel, edges repeated (no scipy needed)."""
    half = len(weights) // 2
    out = values
    for axis in (0, 1):
        padded = np.pad(out, [(half, half) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        size = out.shape[axis]
        out = sum(
            (w * np.take(padded, np.arange(k, k + size), axis=axis) for k, w in enumerate(weights)),
            np.zeros_like(out),
        )
    return out


def ct_pixels(
    plane: Plane, solids: tuple[Solid, ...], rng: np.random.Generator, *, contrast: bool
) -> npt.NDArray[np.uint16]:
    """Stored CT values (HU - CT_INTERCEPT): partial-volume edges and ~10 HU quantum noise."""
    hu, _ = sample(plane, solids, contrast=contrast)
    hu = _smooth(hu, (0.25, 0.5, 0.25))
    hu += rng.normal(0.0, 10.0, hu.shape)
    stored: npt.NDArray[np.uint16] = np.clip(np.rint(hu) - CT_INTERCEPT, 0, _CT_MAX_STORED).astype(
        np.uint16
    )
    return stored


def pet_activity(
    plane: Plane, solids: tuple[Solid, ...], rng: np.random.Generator, *, bq_per_suv: float
) -> npt.NDArray[np.float64]:
    """Activity concentration (Bq/ml) of an FDG scan: uptake blurred to PET resolution (~7 mm
    FWHM at 3 mm pixels) with noise that grows with the counts, as in a reconstructed image."""
    _, suv = sample(plane, solids)
    suv = _smooth(suv, (0.06, 0.24, 0.4, 0.24, 0.06))
    noisy = suv + rng.normal(0.0, 1.0, suv.shape) * np.sqrt(suv) * 0.15
    return np.clip(noisy, 0.0, None) * bq_per_suv


def quantize(values: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.uint16], float]:
    """Stored values and the RescaleSlope giving them back (PET: one slope per slice, PS3.3
    C.8.9.4.1.2); the slope is rounded to 6 digits first so the DS text holds it exactly."""
    top = float(values.max())
    slope = float(f"{top / _PET_MAX_STORED:.6g}") if top > 0 else 1.0
    stored = np.clip(np.rint(values / slope), 0, _PET_MAX_STORED).astype(np.uint16)
    return stored, slope


@dataclass(frozen=True)
class Radiograph:
    """A projection image: ``plane`` is the detector, ``through`` the unit vector the rays travel
    along and ``depth`` the (start, stop) distances sampled along it, in mm."""

    plane: Plane
    through: tuple[float, float, float]
    depth: tuple[float, float]


def projection(
    view: Radiograph, solids: tuple[Solid, ...], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Attenuation line integrals, 0..1 (1 = densest ray), computed at half resolution and
    enlarged: water-equivalent path length with bone counting double, as a CR reader shows it."""
    half = replace(
        view.plane,
        rows=view.plane.rows // 2,
        columns=view.plane.columns // 2,
        spacing=(view.plane.spacing[0] * 2, view.plane.spacing[1] * 2),
    )
    step = 8.0
    grid = half.grid()
    # Each ray starts at its own random depth within the first step: the piecewise-constant
    # body would otherwise show contour bands, one per step.
    jitter = rng.uniform(0.0, step, grid[0].shape)
    total = np.zeros(grid[0].shape)
    for distance in np.arange(view.depth[0], view.depth[1], step):
        x, y, z = (
            axis + (distance + jitter) * t for axis, t in zip(grid, view.through, strict=True)
        )
        hu, _ = sample_points(x, y, z, solids, contrast=False)
        total += np.clip(hu + 1000.0, 0.0, None) / 1000.0 * step
    total /= max(float(total.max()), 1.0)
    image = Image.fromarray(total.astype(np.float32))
    full = image.resize((view.plane.columns, view.plane.rows), Image.Resampling.BICUBIC)
    shape = (view.plane.rows, view.plane.columns)
    values = np.asarray(full, dtype=np.float64) + rng.normal(0.0, 0.008, shape)
    return np.clip(values, 0.0, 1.0) ** 0.8


def jpeg_baseline(pixels: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    """Encode one 8-bit grayscale frame as a JPEG Baseline (Process 1) interchange stream, the
    bitstream DICOM's 1.2.840.10008.1.2.4.50 encapsulates (PS3.5 A.4.1); no progressive or
    optimised Huffman tables, so any JPEG decoder reads it."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, format="JPEG", quality=quality, optimize=False, progressive=False
    )
    return buffer.getvalue()


def decay_factor(seconds: float) -> float:
    """Fraction of F-18 left after ``seconds`` (for the dose at scan start and DecayFactor)."""
    return math.exp(-math.log(2.0) * seconds / F18_HALF_LIFE)
