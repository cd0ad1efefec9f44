"""Test images for the pixel service: known pixels, stored in every transfer syntax the issue
names, so decoded values can be compared with the NumPy arrays they were made from."""

from __future__ import annotations

from typing import Any

import imagecodecs
import numpy as np
from pydicom import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from openvna.archive import Archive, Origin, StoredInstance
from tests.factories import make_instance

Array = np.ndarray[Any, Any]
HTJ2K = "1.2.840.10008.1.2.4.201"

NATIVE = (
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
)
LOSSLESS = (
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.5",
)


def _smooth(shape: tuple[int, ...], low: int, high: int, seed: int) -> Array:
    """A gradient with some noise: compressible (JPEG-LS and JPEG 2000 encoders size their
    buffers for real images, not white noise), yet every frame and pixel differs."""
    rng = np.random.default_rng(seed)
    rows, columns = shape[-2], shape[-1]
    ramp = np.add.outer(np.arange(rows), np.arange(columns)) / max(rows + columns - 2, 1)
    frames = shape[0] if len(shape) == 3 else 1
    out = np.stack([np.roll(ramp, f * 3, axis=1) for f in range(frames)])
    values = low + out * (high - low) + rng.integers(-3, 4, out.shape)
    return np.clip(values, low, high).reshape(shape)


def gray(
    rows: int = 64, columns: int = 48, frames: int = 1, bits: int = 12, signed: bool = False
) -> Array:
    """Deterministic grayscale values covering the whole range of ``bits``."""
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    dtype = (np.int16 if signed else np.uint16) if bits > 8 else (np.int8 if signed else np.uint8)
    shape = (frames, rows, columns) if frames > 1 else (rows, columns)
    values = _smooth(shape, low, high, bits * 100 + frames).astype(dtype)
    values.flat[0], values.flat[1] = low, high
    return values


def rgb(rows: int = 64, columns: int = 48, frames: int = 1) -> Array:
    shape = (frames, rows, columns) if frames > 1 else (rows, columns)
    channels = [_smooth(shape, 0, 255, seed).astype(np.uint8) for seed in (1, 2, 3)]
    return np.stack([channels[0], channels[1][..., ::-1], 255 - channels[2]], axis=-1)


def dataset(pixels: Array, color: bool = False, **attributes: Any) -> Dataset:
    """A CT-like instance holding ``pixels`` natively (explicit VR little endian)."""
    frames = pixels.shape[0] if pixels.ndim == (4 if color else 3) else 1
    rows, columns = pixels.shape[-3:-1] if color else pixels.shape[-2:]
    photometric = attributes.pop("PhotometricInterpretation", None)
    ds = make_instance(rows=rows, columns=columns, frames=frames)
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = attributes.pop("BitsStored", bits if bits == 8 else 12)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.SamplesPerPixel = 3 if color else 1
    ds.PhotometricInterpretation = photometric or ("RGB" if color else "MONOCHROME2")
    if color:
        ds.PlanarConfiguration = 0
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def in_syntax(ds: Dataset, syntax: str) -> Dataset:
    """``ds`` stored in ``syntax`` (pydicom's encoders; native syntaxes are set on write)."""
    syntax = UID(syntax)
    if syntax == HTJ2K:  # no pydicom encoder: OpenJPH through imagecodecs, lossless
        pixels = ds.pixel_array
        frames = pixels if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels[None]
        ds.PixelData = encapsulate([imagecodecs.htj2k_encode(f, level=0) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
        return ds
    if syntax.is_compressed:
        ds.compress(syntax, generate_instance_uid=False)
        return ds
    ds.file_meta.TransferSyntaxUID = syntax
    if syntax == ExplicitVRBigEndian and ds.BitsAllocated == 16:
        # pydicom writes the value's bytes as they are: give it big endian words.
        ds.PixelData = np.frombuffer(ds.PixelData, "<u2").astype(">u2").tobytes()
    return ds


def stored(archive: Archive, ds: Dataset) -> StoredInstance:
    outcome = archive.store_dataset(ds, Origin.local("test"))
    assert outcome.ok, outcome.message
    (instance,) = archive.retrieve(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    return instance
