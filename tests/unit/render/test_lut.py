"""The display pipeline against NumPy expectations written from PS3.3 C.11 (not against its own
earlier output): rescale, the three window functions, VOI LUT Sequence, MONOCHROME1, signed
values, the frame's own range, palette colour and 16-bit colour."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import Dataset
from pydicom.data import get_testdata_file
from pydicom.sequence import Sequence

from openvna.errors import BadRequest
from openvna.render import Window, display


def _header(**attributes: object) -> Dataset:
    ds = Dataset()
    ds.BitsStored = 12
    ds.PixelRepresentation = 0
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """C.11.2.1.2.1, output 0..255."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, y)
    y = np.where(x > c - 0.5 + (w - 1) / 2, 255, y)
    return np.rint(np.clip(y, 0, 255)).astype(np.uint8)


VALUES = np.arange(0, 4096, 7, dtype=np.uint16).reshape(-1, 1)


def test_rescale_then_linear_window_from_the_header() -> None:
    header = _header(RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
    got = display(VALUES, "MONOCHROME2", header)
    expected = _linear(VALUES * 2.0 - 1024, 40, 400)
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_window_parameter_replaces_the_header_one_and_linear_exact() -> None:
    header = _header(WindowCenter=40, WindowWidth=400)
    got = display(VALUES, "MONOCHROME2", header, Window(2000, 1000, "LINEAR_EXACT"))
    x = VALUES.astype(float)
    expected = np.rint(np.clip(((x - 2000) / 1000 + 0.5) * 255, 0, 255))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_sigmoid() -> None:
    got = display(VALUES, "MONOCHROME2", _header(), Window(1000, 500, "SIGMOID"))
    expected = np.rint(255 / (1 + np.exp(-4 * (VALUES - 1000.0) / 500)))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_voi_lut_function_from_the_header() -> None:
    header = _header(WindowCenter=1000, WindowWidth=500, VOILUTFunction="SIGMOID")
    got = display(VALUES, "MONOCHROME2", header)
    expected = np.rint(255 / (1 + np.exp(-4 * (VALUES - 1000.0) / 500)))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_monochrome1_is_inverted() -> None:
    header = _header(WindowCenter=2048, WindowWidth=4096)
    normal = display(VALUES, "MONOCHROME2", header)
    inverted = display(VALUES, "MONOCHROME1", header)
    assert np.array_equal(inverted.astype(int), 255 - normal.astype(int))
    assert inverted[0, 0] == 255  # the smallest value shows white (C.7.6.3.1.2)


def test_signed_values_without_window_use_the_frames_range() -> None:
    values = np.array([[-1000, 0, 1000]], dtype=np.int16)
    got = display(values, "MONOCHROME2", _header(PixelRepresentation=1))
    assert got.tolist() == [[0, 128, 255]]


def test_voi_lut_sequence() -> None:
    item = Dataset()
    item.LUTDescriptor = [4, 10, 8]  # 4 entries, first mapped value 10, 8 bits
    item.LUTData = [0, 50, 100, 255]
    header = _header(VOILUTSequence=Sequence([item]))
    values = np.array([[0, 10, 11, 12, 13, 99]], dtype=np.uint16)
    got = display(values, "MONOCHROME2", header)
    assert got.tolist() == [[0, 0, 50, 100, 255, 255]]


def test_threshold_window_of_width_one() -> None:
    got = display(np.array([[9, 10, 11]], dtype=np.uint16), "MONOCHROME2", _header(), Window(10, 1))
    # C.11.2.1.2.1: x <= c - 0.5 -> ymin, else ymax.
    assert got.tolist() == [[0, 255, 255]]


@pytest.mark.parametrize(
    ("center", "width", "function"),
    [(0, 0, "LINEAR"), (0, -5, "SIGMOID"), (float("nan"), 10, "LINEAR")],
)
def test_impossible_windows_are_400(center: float, width: float, function: str) -> None:
    with pytest.raises(BadRequest):
        Window(center, width, function)


def test_palette_colour_through_its_luts() -> None:
    from pydicom import dcmread
    from pydicom.pixels.processing import apply_color_lut

    ds = dcmread(get_testdata_file("examples_palette.dcm"))
    raw = ds.pixel_array  # palette indices
    got = display(raw, "PALETTE COLOR", ds)
    expected = apply_color_lut(raw, ds) >> 8  # 16-bit LUT entries to 8 bits
    assert got.shape == (*raw.shape, 3)
    assert np.array_equal(got, expected.astype(np.uint8))


def test_16_bit_rgb_keeps_its_top_8_bits() -> None:
    values = np.array([[[65535, 256, 0]]], dtype=np.uint16)
    got = display(values, "RGB", _header(BitsStored=16))
    assert got.tolist() == [[[255, 1, 0]]]


@pytest.mark.parametrize(
    ("dtype", "low", "high", "window"),
    [
        (np.uint16, 0, 4096, Window(40, 400)),
        (np.int16, -2000, 3000, Window(100, 700, "SIGMOID")),
        (np.int16, -32768, -30000, Window(-31000, 900, "LINEAR_EXACT")),
        (np.uint8, 0, 256, Window(128, 1)),
    ],
)
def test_a_large_frame_maps_each_value_as_a_single_row_does(
    dtype: type, low: int, high: int, window: Window
) -> None:
    """A frame with more pixels than values is mapped through a table of its value range:
    each pixel must show what its value shows in a one-row frame (mapped value by value)."""
    frame = np.random.default_rng(5).integers(low, high, (192, 192)).astype(dtype)
    header = _header(PixelRepresentation=int(frame.dtype.kind == "i"))
    header.RescaleSlope, header.RescaleIntercept = -1.5, 12
    got = display(frame, "MONOCHROME1", header, window)
    by_row = np.concatenate([display(row[None], "MONOCHROME1", header, window) for row in frame])
    assert np.array_equal(got, by_row)


def test_a_large_signed_frame_without_window_uses_its_range() -> None:
    frame = np.random.default_rng(6).integers(-1000, 1001, (128, 128)).astype(np.int16)
    frame[0, :2] = -1000, 1000
    got = display(frame, "MONOCHROME2", _header(PixelRepresentation=1))
    expected = np.rint(np.clip((frame / 2000.0 + 0.5) * 255, 0, 255))
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert got[0, 0] == 0 and got[0, 1] == 255
