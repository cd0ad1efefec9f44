"""Archive errors reach the user as one line and exit status 1, never as a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from pydicom.data import get_testdata_file


def test_unreachable_index_is_one_line_and_exit_1(tmp_path) -> None:
    env = {**os.environ, "OPENVNA_INDEX__URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openvna",
            "import",
            get_testdata_file("CT_small.dcm"),
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("openvna: index at postgresql")
    assert "Traceback" not in result.stderr


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = subprocess.run(
        [sys.executable, "-m", "openvna", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"openvna {version('openvna')}\n")
