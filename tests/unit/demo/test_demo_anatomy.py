"""The synthetic body: solids in patient coordinates (LPS), sampled on image planes."""

from __future__ import annotations

import numpy as np

from openvna.demo.anatomy import AIR_HU, LESIONS, Plane, body, sample


def _axial(z: float, size: int = 128, spacing: float = 3.0) -> Plane:
    start = -size * spacing / 2 + spacing / 2
    return Plane((start, start, z), (1, 0, 0), (0, 1, 0), (spacing, spacing), size, size)


def test_plane_grid_follows_orientation_and_spacing():
    plane = Plane((10.0, 20.0, 30.0), (1, 0, 0), (0, 0, -1), (2.0, 0.5), 3, 4)
    x, y, z = plane.grid()
    assert x.shape == (3, 4)
    assert (x[0, 0], y[0, 0], z[0, 0]) == (10.0, 20.0, 30.0)
    assert x[0, 3] == 11.5  # along a row: column spacing 0.5 mm, +x
    assert z[2, 0] == 26.0  # down a column: row spacing 2 mm, -z
    assert np.all(y == 20.0)


def test_axial_chest_slice_has_air_lungs_and_soft_tissue():
    hu, suv = sample(_axial(-150.0), body())
    assert hu[0, 0] == AIR_HU
    assert suv[0, 0] == 0.0
    values = set(np.unique(hu))
    assert -850.0 in values  # lungs
    assert -100.0 in values  # subcutaneous fat
    assert 600.0 in values  # vertebral arch
    # The right lung is on the patient's right: negative x, the left of the image.
    assert hu[64, 34] == -850.0
    assert hu[64, 94] == -850.0


def test_contrast_changes_enhancing_organs_only():
    plane = _axial(-300.0)
    native, _ = sample(plane, body())
    venous, _ = sample(plane, body(), contrast=True)
    liver = (64 - 22, 64 - 2)  # x = -65 mm, y = -5 mm
    assert native[liver[1], liver[0]] == 58.0
    assert venous[liver[1], liver[0]] == 115.0
    assert native[0, 0] == venous[0, 0] == AIR_HU


def test_lesions_are_painted_last_with_their_uptake():
    nodule = LESIONS["lung-nodule"]
    x, y, z = nodule.center
    plane = Plane((x, y, z), (1, 0, 0), (0, 1, 0), (1.0, 1.0), 1, 1)
    without, _ = sample(plane, body())
    hu, suv = sample(plane, body(("lung-nodule",)))
    assert without[0, 0] == -850.0
    assert (hu[0, 0], suv[0, 0]) == (nodule.hu, nodule.suv)
