"""A synthetic patient: a body made of simple solids, sampled on any image plane.

Each solid has a CT number (HU, without and with portal-venous contrast) and an FDG uptake (SUV),
so that a CT, a PET and a radiograph of the same patient agree with one another: the lesion a
viewer finds on the CT is where the PET shows its hot spot. Coordinates are the patient-based
system of PS3.3 C.7.6.2.1.1 (LPS: +x to the patient's left, +y posterior, +z head), in mm; the
body's axis is x = y = 0 and the top of the trunk is at z = 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["LESIONS", "Plane", "Solid", "body", "sample", "sample_points"]

FloatArray = npt.NDArray[np.float64]

AIR_HU = -1000.0


@dataclass(frozen=True)
class Solid:
    """An ellipsoid, or an elliptic cylinder along z (``cylinder``) spanning center z ± half."""

    kind: Literal["ellipsoid", "cylinder"]
    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    hu: float
    suv: float
    hu_contrast: float | None = None

    def mask(self, x: FloatArray, y: FloatArray, z: FloatArray) -> npt.NDArray[np.bool_]:
        cx, cy, cz = self.center
        a, b, c = self.radii
        inside = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2
        if self.kind == "ellipsoid":
            return (inside + ((z - cz) / c) ** 2) <= 1.0
        return (inside <= 1.0) & (np.abs(z - cz) <= c)

    def meets(self, low: FloatArray, high: FloatArray) -> bool:
        """Whether the solid's bounding box meets the box [low, high] (to skip far solids)."""
        centre = np.asarray(self.center)
        radii = np.asarray(self.radii)
        return bool(np.all(centre - radii <= high) and np.all(centre + radii >= low))


def _ell(
    center: tuple[float, float, float],
    radii: tuple[float, float, float],
    hu: float,
    suv: float,
    contrast: float | None = None,
) -> Solid:
    return Solid("ellipsoid", center, radii, hu, suv, contrast)


def _cyl(
    xy: tuple[float, float],
    ab: tuple[float, float],
    z: tuple[float, float],
    hu: float,
    suv: float,
    contrast: float | None = None,
) -> Solid:
    top, bottom = max(z), min(z)
    centre = (xy[0], xy[1], (top + bottom) / 2)
    return Solid("cylinder", centre, (ab[0], ab[1], (top - bottom) / 2), hu, suv, contrast)


def _ribs() -> list[Solid]:
    """Ribs as thin elliptic shells around the chest: cortical bone, then the soft tissue inside."""
    solids: list[Solid] = []
    for level in range(10):
        z = -40.0 - 28.0 * level
        solids.append(_cyl((0, 6), (152, 99), (z + 3, z - 3), 500, 1.0))
        solids.append(_cyl((0, 6), (144, 92), (z + 3, z - 3), 45, 0.8))
    return solids


def _spine() -> list[Solid]:
    """Vertebrae with discs every 30 mm, posterior elements and the canal (PS3.3 needs nothing
    of this; a viewer's sagittal and coronal reformats look wrong without it)."""
    solids = [
        _cyl((0, 92), (10, 16), (30, -640), 600, 1.2),
        _cyl((0, 86), (8, 8), (30, -640), 20, 0.6),
        _cyl((0, 58), (20, 19), (30, -640), 700, 1.5),
        _cyl((0, 58), (17, 16), (30, -640), 230, 1.8),
    ]
    solids += [_cyl((0, 58), (20, 19), (z + 3, z - 3), 90, 0.8) for z in range(0, -640, -30)]
    return solids


def _legs() -> list[Solid]:
    solids: list[Solid] = []
    for side in (-1, 1):
        x = 92.0 * side
        solids += [
            _cyl((x, 5), (76, 82), (-690, -960), -100, 0.4),
            _cyl((x, 5), (66, 72), (-690, -960), 48, 0.9),
            _cyl((x, 12), (15, 15), (-690, -960), 1100, 1.0),
            _cyl((x, 12), (9, 9), (-690, -960), 160, 1.2),
            _ell((x, 12, -690), (24, 24, 24), 850, 1.2),
        ]
    return solids


def _head_and_neck() -> list[Solid]:
    return [
        _cyl((0, 12), (58, 55), (60, 0), 42, 0.9),
        _ell((0, -5, 140), (78, 98, 110), 900, 1.0),
        _ell((0, -5, 142), (70, 90, 101), 36, 8.0, 40),
        _ell((-9, -12, 152), (6, 26, 16), 5, 1.0),
        _ell((9, -12, 152), (6, 26, 16), 5, 1.0),
    ]


def _chest() -> list[Solid]:
    return [
        _ell((-86, 5, -150), (62, 82, 152), -850, 0.3),
        _ell((86, 5, -150), (62, 82, 152), -850, 0.3),
        _cyl((0, -30), (9, 9), (60, -110), AIR_HU, 0.0),
        _cyl((20, 40), (12, 12), (-90, -520), 40, 1.6, 175),
        _ell((25, -25, -210), (56, 50, 60), 40, 3.5, 150),
    ]


def _abdomen() -> list[Solid]:
    return [
        _ell((-65, -5, -300), (92, 80, 96), 58, 2.3, 115),
        _ell((95, 40, -280), (30, 45, 55), 48, 1.9, 125),
        _ell((55, -40, -270), (40, 35, 40), 15, 1.2, 25),
        _ell((55, -62, -255), (26, 12, 15), -950, 0.0),
        _ell((-75, 55, -360), (28, 32, 55), 32, 5.0, 190),
        _ell((75, 55, -360), (28, 32, 55), 32, 5.0, 190),
        _cyl((-42, 62), (18, 20), (-380, -600), 50, 0.9),
        _cyl((42, 62), (18, 20), (-380, -600), 50, 0.9),
        _cyl((0, -22), (118, 70), (-420, -560), 25, 1.3, 38),
        _ell((-40, -50, -450), (14, 10, 10), -950, 0.0),
        _ell((30, -35, -500), (18, 12, 9), -950, 0.0),
        _ell((-95, 48, -560), (45, 18, 58), 650, 1.0),
        _ell((95, 48, -560), (45, 18, 58), 650, 1.0),
        _ell((0, -35, -650), (42, 35, 38), 8, 25.0),
    ]


LESIONS: dict[str, Solid] = {
    # A right upper lobe adenocarcinoma and a hot mediastinal node (the TCGA-LUAD patient).
    "lung-nodule": _ell((-92, -22, -140), (14, 13, 13), 35, 12.0, 60),
    "mediastinal-node": _ell((12, -8, -118), (9, 9, 9), 40, 7.0, 70),
    # A hypodense liver lesion: faint before contrast, obvious in the portal venous phase.
    "liver-lesion": _ell((-88, -32, -288), (14, 13, 14), 38, 2.0, 45),
}


def body(lesions: tuple[str, ...] = ()) -> tuple[Solid, ...]:
    """The solids in painting order (later ones overwrite earlier ones), lesions last."""
    trunk = [
        _cyl((0, 0), (170, 115), (10, -700), -100, 0.4),
        _cyl((0, 0), (158, 103), (10, -700), 45, 0.8),
        *_ribs(),
    ]
    parts = [*_head_and_neck(), *trunk, *_chest(), *_abdomen(), *_spine(), *_legs()]
    return (*parts, *(LESIONS[name] for name in lesions))


@dataclass(frozen=True)
class Plane:
    """An image plane as PS3.3 C.7.6.2 describes it: the centre of the first pixel, the unit
    vectors along a row and down a column, and the pixel spacing (row, column) in mm."""

    origin: tuple[float, float, float]
    row: tuple[float, float, float]
    column: tuple[float, float, float]
    spacing: tuple[float, float]
    rows: int
    columns: int

    def grid(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x, y, z of every pixel centre, each an array of shape (rows, columns)."""
        r = np.arange(self.rows, dtype=np.float64)[:, None] * self.spacing[0]
        c = np.arange(self.columns, dtype=np.float64)[None, :] * self.spacing[1]
        axes = []
        for axis in range(3):
            values = self.origin[axis] + c * self.row[axis] + r * self.column[axis]
            axes.append(np.broadcast_to(values, (self.rows, self.columns)))
        return axes[0], axes[1], axes[2]


def sample(
    plane: Plane, solids: tuple[Solid, ...], *, contrast: bool = False
) -> tuple[FloatArray, FloatArray]:
    """CT numbers (HU) and SUVs at every pixel centre of ``plane``; air outside the body."""
    return sample_points(*plane.grid(), solids, contrast=contrast)


def sample_points(
    x: FloatArray, y: FloatArray, z: FloatArray, solids: tuple[Solid, ...], *, contrast: bool
) -> tuple[FloatArray, FloatArray]:
    """CT numbers (HU) and SUVs at the points (x, y, z), arrays of one shape."""
    low = np.array([x.min(), y.min(), z.min()])
    high = np.array([x.max(), y.max(), z.max()])
    hu = np.full(x.shape, AIR_HU)
    suv = np.zeros(x.shape)
    for solid in solids:
        if not solid.meets(low, high):
            continue
        inside = solid.mask(x, y, z)
        value = solid.hu_contrast if contrast and solid.hu_contrast is not None else solid.hu
        hu[inside] = value
        suv[inside] = solid.suv
    return hu, suv
