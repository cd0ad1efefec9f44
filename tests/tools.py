"""The command-line tools some tests run as real clients and checkers (DCMTK, dicom3tools).

The README's test command installs them (scripts/test.sh: the Debian packages dcmtk and
dicom3tools), so a missing one is a broken set-up, not a reason to skip: the test fails and says
what to install.
"""

from __future__ import annotations

import shutil

import pytest

DCMTK = ("echoscu", "storescu", "findscu", "movescu", "getscu", "storescp")
_PACKAGES = {"dciodvfy": "dicom3tools"}


def require_tools(*names: str) -> None:
    """Fail the test naming the Debian package when one of ``names`` is not on PATH."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        packages = sorted({_PACKAGES.get(name, "dcmtk") for name in missing})
        pytest.fail(
            f"{', '.join(missing)} not on PATH: apt-get install {' '.join(packages)} "
            "(bash scripts/test.sh does)"
        )


@pytest.fixture
def dcmtk() -> None:
    """DCMTK's network tools, required (``needs_dcmtk``)."""
    require_tools(*DCMTK)


# Tests that run DCMTK's SCUs or storescp: they fail, saying what to install, without them.
needs_dcmtk = pytest.mark.usefixtures("dcmtk")
